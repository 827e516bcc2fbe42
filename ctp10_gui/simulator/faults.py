"""Fault injection for the simulator's TCP server: stall, late reply, FIN, RST, refusal, garbage."""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ctp10_gui.simulator.server import SimulatorServer

log = logging.getLogger(__name__)

GARBAGE_REPLY = "ÿ#@!x".encode("latin-1")  # b"\xff#@!x": not ASCII, not a number


class FaultControl:
    """Faults of one SimulatorServer, driven in-process (server.faults) or by SIM:FAULt commands.

    Reply faults (garbage, truncation, late replies) apply to replies only, in order; writes
    without a reply are not counted. Connection faults return once every other client socket
    is closed (the client issuing a SIM: command is closed right after its message).
    """

    def __init__(self, server: SimulatorServer) -> None:
        self._server = server
        self._lock = threading.Lock()
        self._paused_until: float | None = None  # monotonic s; math.inf = until resume()
        self._late_reply_s = float(server.options.late_reply_s)
        self._garbage_left = 0
        self._truncate_left = 0
        self._truncate_close = False
        self._timers: list[threading.Timer] = []

    # ------------------------------------------------------------------ stall

    def pause(self, seconds: float | None = None) -> None:
        """Stop answering (and accepting) with sockets kept open, for seconds or until resume()."""
        if seconds is not None and seconds < 0:
            raise ValueError(f"pause needs seconds ≥ 0, got {seconds}")
        with self._lock:
            self._paused_until = math.inf if seconds is None else time.monotonic() + seconds
        log.info("fault: paused %s", "until resume()" if seconds is None else f"for {seconds} s")

    def resume(self) -> None:
        """Answer again: queries received during the pause are answered now, in order."""
        with self._lock:
            self._paused_until = None
        log.info("fault: resumed")
        self._server._wake_all()

    def pause_remaining(self) -> float:
        """Return the pause left in s: 0 when answering, math.inf when paused until resume()."""
        with self._lock:
            if self._paused_until is None:
                return 0.0
            remaining = self._paused_until - time.monotonic()
            if remaining <= 0:
                self._paused_until = None
                return 0.0
            return remaining

    @property
    def paused(self) -> bool:
        """Return True while the server is not answering."""
        return self.pause_remaining() > 0

    # ------------------------------------------------------------------ reply faults

    @property
    def late_reply_s(self) -> float:
        """Delay added before every reply, s (0 = none); replies stay correct and in order."""
        with self._lock:
            return self._late_reply_s

    @late_reply_s.setter
    def late_reply_s(self, seconds: float) -> None:
        if not seconds >= 0:
            raise ValueError(f"late_reply_s must be ≥ 0, got {seconds}")
        with self._lock:
            self._late_reply_s = float(seconds)
        log.info("fault: late replies %.3f s", seconds)

    def garbage_next(self, n: int = 1) -> None:
        """Replace the next n replies by garbage bytes b'\\xff#@!x' + CR LF."""
        with self._lock:
            self._garbage_left = max(0, int(n))
        log.info("fault: garbage for the next %d replies", n)

    def truncate_next(self, n: int = 1, *, close: bool = False) -> None:
        """Send only the first half of the next n replies, no terminator; close=True then FINs."""
        with self._lock:
            self._truncate_left = max(0, int(n))
            self._truncate_close = close
        log.info("fault: truncate the next %d replies%s", n, " then close" if close else "")

    def take_reply_fault(self) -> tuple[str, bool] | None:
        """Take the fault of the next reply: ('garbage' or 'truncate', close) or None."""
        with self._lock:
            if self._garbage_left > 0:
                self._garbage_left -= 1
                return ("garbage", False)
            if self._truncate_left > 0:
                self._truncate_left -= 1
                return ("truncate", self._truncate_close)
            return None

    # ------------------------------------------------------------------ connection faults

    def drop_connections(self) -> int:
        """Close every client socket gracefully (FIN); return how many were closed."""
        return self._server._close_clients("drop")

    def reset_connections(self) -> int:
        """Abort every client socket (SO_LINGER 0 then close: RST); return how many."""
        return self._server._close_clients("reset")

    def stop_listening(self) -> None:
        """Close the listening socket: new connections are refused, connected clients stay."""
        self._server._set_listening(False)

    def start_listening(self) -> None:
        """Listen again on the same port (SO_REUSEADDR)."""
        self._server._set_listening(True)

    def refuse(self, seconds: float | None = None) -> None:
        """Refuse new connections, for seconds (then listen again) or until start_listening()."""
        self.stop_listening()
        if seconds is not None:
            timer = threading.Timer(seconds, self._listen_again)
            timer.daemon = True
            with self._lock:
                self._timers.append(timer)
            timer.start()

    def _listen_again(self) -> None:
        if self._server.is_running:
            try:
                self.start_listening()
            except (OSError, RuntimeError):
                log.exception("could not listen again after refusing connections")

    # ------------------------------------------------------------------ instrument faults

    def fail_channel(self, module: int, channel: int, failed: bool = True) -> None:
        """Make one detector reply a garbled value ('x#@!') while the others stay fine."""
        self._server.instrument.fail_channel(module, channel, failed)
        log.info("fault: module %d channel %d %s", module, channel, "garbled" if failed else "ok")

    def set_serial(self, serial: str, *, restart: bool = False) -> None:
        """Become another instrument (*IDN? serial); restart=True also drops every client (FIN)."""
        if not serial or "," in serial or ";" in serial:
            raise ValueError(f"serial must be non-empty without ',' or ';', got {serial!r}")
        self._server.instrument.serial = serial
        log.info("fault: serial now %s", serial)
        if restart:
            self.drop_connections()

    def clear(self) -> None:
        """Remove every fault: answer, no delay, no garbage/truncation, listening, channels ok."""
        with self._lock:
            self._late_reply_s = 0.0
            self._garbage_left = self._truncate_left = 0
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()
        instrument = self._server.instrument
        for module in instrument.options.modules:
            for channel in range(1, instrument.options.channels_per_module + 1):
                instrument.fail_channel(module, channel, False)
        self.resume()
        if self._server.is_running:
            self.start_listening()

    def cancel_timers(self) -> None:
        """Cancel pending re-listen timers (called when the server stops)."""
        with self._lock:
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()
