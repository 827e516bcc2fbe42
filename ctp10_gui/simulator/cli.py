"""ctp10-sim: run the simulated CTP10 until SIGINT/SIGTERM; print its VISA address once."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from ctp10_gui.simulator.options import (
    EMPTY_LASER_REPLIES,
    UNDER_RANGE_FORMS,
    SimulatorOptions,
)
from ctp10_gui.simulator.server import SimulatorServer

log = logging.getLogger("ctp10_gui.simulator.cli")


def _offset(text: str) -> tuple[float, float]:
    try:
        x_text, y_text = text.split(",")
        return float(x_text), float(y_text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected X,Y in µm (e.g. 0.5,-0.2), got {text!r}"
        ) from exc


def _modules(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected slots like 1,4, got {text!r}") from exc


def build_parser() -> argparse.ArgumentParser:
    """Return the ctp10-sim argument parser."""
    defaults = SimulatorOptions()
    p = argparse.ArgumentParser(
        prog="ctp10-sim",
        description="Simulated EXFO CTP10 on a TCP SCPI socket. Prints its VISA address "
        "(TCPIP::<host>::<port>::SOCKET) on one line once it accepts connections, then runs "
        "until Ctrl+C or SIGTERM. SIMulate:... SCPI commands inject faults (see the docs).",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default loopback)")
    p.add_argument("--port", type=int, default=5025, help="TCP port, 0 = any free port")
    p.add_argument("--speedup", type=float, default=1.0, help="divide sweep/laser durations by X")
    p.add_argument("--serial", default=defaults.serial, help="serial number in *IDN?")
    p.add_argument("--seed", type=int, default=0, help="random seed (noise, drift, rings)")
    p.add_argument("--modules", type=_modules, default=defaults.modules,
                   help="detector module slots, e.g. 1,4")
    p.add_argument("--channels", type=int, default=defaults.channels_per_module,
                   help="channels per module (1–6)")
    p.add_argument("--compound", action=argparse.BooleanOptionalAction, default=True,
                   help="answer 'A?;B?' with 'a;b' (--no-compound: -113 and no reply)")
    p.add_argument("--unit-reply", choices=("number", "text"), default="number",
                   help="UNIT:Y?/UNIT:X? reply 0/1 or DBM/MW")
    p.add_argument("--power-reply", choices=("bare", "with-unit"), default="bare",
                   help="POW? reply '-3.1E+000' or '-3.1E+000,DBM'")
    p.add_argument("--under-range", choices=UNDER_RANGE_FORMS, default="sentinel",
                   help="reply below -80 dBm: -9.91E37, -200 or -INF")
    p.add_argument("--block-trailer", action=argparse.BooleanOptionalAction,
                   default=defaults.block_trailer,
                   help="send CR LF after a binary block (default: no trailer, like the "
                   "clients that ran on real CTP10s expect)")
    p.add_argument("--empty-laser", choices=EMPTY_LASER_REPLIES, default=defaults.empty_laser,
                   help="queries of an empty laser position: stored values, silence, or -241")
    p.add_argument("--max-clients", type=int, default=1, help="clients served at once")
    p.add_argument("--late-reply-s", type=float, default=0.0, help="delay every reply (fault)")
    p.add_argument("--scan-bit-delay-s", type=float, default=0.0,
                   help="scanning bit appears this long after :INIT (late-bit variant)")
    p.add_argument("--noise-db", type=float, default=defaults.noise_db, help="live noise, dB rms")
    p.add_argument("--drift", action=argparse.BooleanOptionalAction, default=True,
                   help="slow fiber drift")
    p.add_argument("--offset-um", type=_offset, default=defaults.offset_um,
                   help="initial fiber offset X,Y in µm")
    p.add_argument("--bind-retry-s", type=float, default=3.0,
                   help="keep retrying a busy port this long (restart on the same port)")
    p.add_argument("--log-level", default="WARNING",
                   choices=("DEBUG", "INFO", "WARNING", "ERROR"), help="log level on stderr")
    return p


def options_from_args(args: argparse.Namespace) -> SimulatorOptions:
    """Build SimulatorOptions from parsed arguments; raise ValueError on bad combinations."""
    return SimulatorOptions(
        modules=args.modules,
        channels_per_module=args.channels,
        unit_reply=args.unit_reply,
        power_reply="with_unit" if args.power_reply == "with-unit" else "bare",
        compound=args.compound,
        block_trailer=args.block_trailer,
        empty_laser=args.empty_laser,
        max_clients=args.max_clients,
        speedup=args.speedup,
        under_range=args.under_range,
        serial=args.serial,
        seed=args.seed,
        late_reply_s=args.late_reply_s,
        scan_bit_delay_s=args.scan_bit_delay_s,
        noise_db=args.noise_db,
        drift=args.drift,
        offset_um=args.offset_um,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator until SIGINT/SIGTERM; return 0 on a clean stop, 2 on bad input."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        options = options_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    logging.basicConfig(
        level=args.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    server = SimulatorServer(
        options, host=args.host, port=args.port, bind_retry_s=args.bind_retry_s
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        server.start()
    except OSError as exc:
        print(f"ctp10-sim: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    try:
        print(server.address, flush=True)
        # wait in slices: signal handlers run in the main thread between them on every OS
        while not stop.wait(0.05):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
