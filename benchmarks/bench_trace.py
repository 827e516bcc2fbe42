"""Measure the trace path: 940 001-point fetch + parse over loopback, 1 M-point draw and pan.

Goals (issue 5): fetch + parse ≤ 100 ms; first draw ≤ 50 ms; pan/zoom redraw ≤ 16 ms.
Run: QT_QPA_PLATFORM=offscreen python benchmarks/bench_trace.py [--repeats N]
Prints medians (ms) and the ratio against drawing every point with a plain PlotCurveItem.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication

from ctp10_gui.hardware.ctp10 import CTP10, TraceType
from ctp10_gui.hardware.transport import VisaTransport, close_resource_manager
from ctp10_gui.models.traces import TraceStore
from ctp10_gui.simulator import SimulatorOptions, SimulatorServer
from ctp10_gui.views.trace_view import TraceView

TRACE_POINTS = 940_001  # 1520–1614 nm at 0.1 pm
DRAW_POINTS = 1_000_000
SIZE = (1200, 700)


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    """Return the median wall time of fn() in ms over `repeats` calls (≥ 1)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def bench_fetch(repeats: int, block_trailer: bool) -> None:
    """Time fetch_trace of a 940 001-point TF trace from the simulator over TCP loopback."""
    with SimulatorServer(SimulatorOptions(speedup=1000.0, block_trailer=block_trailer)) as sim:
        for command in (":INIT:WAV:STAR 1520NM", ":INIT:WAV:STOP 1614NM", ":INIT:WAV:SAMP 0.1PM"):
            sim.instrument.handle(command)
        ctp10 = CTP10(VisaTransport(sim.address, io_timeout_s=5.0))
        ctp10.connect()
        try:
            ctp10.start_sweep()
            ctp10.wait_until_idle(timeout_s=30.0, poll_s=0.01, appear_s=0.05)
            t0 = time.perf_counter()
            trace = ctp10.fetch_trace(4, 1, TraceType.TF_LIVE)
            first = (time.perf_counter() - t0) * 1e3
            assert trace.values.size == TRACE_POINTS, trace.values.size
            fetch = median_ms(lambda: ctp10.fetch_trace(4, 1, TraceType.TF_LIVE), repeats)
            with_x = median_ms(
                lambda: ctp10.fetch_trace(4, 1, TraceType.TF_LIVE, with_x=True), repeats
            )
        finally:
            ctp10.close()
            close_resource_manager()
    variant = "CR LF after each block" if block_trailer else "no block trailer"
    print(f"[{variant}] fetch+parse {TRACE_POINTS} points (Y block, X rebuilt): {fetch:7.1f} ms "
          f"(goal ≤ 100) · first fetch incl. simulator synthesis {first:.1f} ms")
    print(f"[{variant}] fetch+parse with the X block too (7.5 MB more):        {with_x:7.1f} ms")


def synthetic_trace() -> tuple[np.ndarray, np.ndarray]:
    """Return a 1 M-point spectrum with noise and narrow dips (wavelength nm, dB)."""
    rng = np.random.default_rng(1)
    x = 1500.0 + np.arange(DRAW_POINTS) * 1e-4
    y = -3.0 + 0.05 * rng.standard_normal(DRAW_POINTS)
    for centre in np.arange(1502.0, 1600.0, 3.7):
        y -= 25.0 / (1.0 + ((x - centre) / 0.02) ** 2)
    return x, y


def bench_draw(app: QApplication, repeats: int) -> None:
    """Time first draw and pan redraw of 1 M points: TraceView versus every point drawn.

    Each frame is timed twice: wall clock (what a user waits, noisy on a shared machine) and
    CPU time of the GUI thread (the work done, stable under load). Medians per frame.
    """
    x, y = synthetic_trace()
    paints = _PaintCounter()

    def render(widget: pg.PlotWidget) -> None:
        # The update request posted by the change is handled here: one real paint of the
        # shown widget, as on screen (grab() would paint a second time).
        before = paints.count
        widget.viewport().update()  # coalesces with the update the change already posted
        widget.viewport().installEventFilter(paints)
        app.processEvents()
        widget.viewport().removeEventFilter(paints)
        if paints.count == before:
            raise RuntimeError("no paint happened: the measurement would be empty")

    def frame(change: Callable[[], object], widget: pg.PlotWidget) -> tuple[float, float]:
        w0, c0 = time.perf_counter(), time.thread_time()
        change()
        render(widget)
        return (time.perf_counter() - w0) * 1e3, (time.thread_time() - c0) * 1e3

    def settle() -> None:
        # Let deferred work of the previous step (the resonance table) finish, untimed.
        end = time.perf_counter() + 0.2
        while time.perf_counter() < end:
            app.processEvents()

    span = x[-1] - x[0]
    pans = [x[0] + f * span for f in np.linspace(0.0, 0.02, 20)]

    # -- the app's TraceView: min/max of the visible slice per pixel column --
    store = TraceStore()
    view = TraceView(store, controller=_NoLink())
    view.resize(*SIZE)
    view.show()
    settle()
    render(view.plot)  # fonts, axes and caches warmed up
    firsts = []
    for _ in range(repeats):
        store.clear()
        settle()
        firsts.append(frame(
            lambda: store.add_arrays(x, y, unit="dB", module=4, channel=1, trace_type=1),
            view.plot,
        ))
    settle()
    vb = view.plot.viewbox
    visible = view.plot.curves[store.last.key].getData()[0].size if store.last else 0

    def pan_frames(width: float) -> list[tuple[float, float]]:
        out = []
        for x0 in pans:
            out.append(frame(lambda x0=x0: vb.setXRange(x0, x0 + width, padding=0), view.plot))
        return out

    pan_frames(span)  # warm-up: tick label caches
    full = [f for _ in range(max(1, repeats // 3)) for f in pan_frames(span)]
    zoomed = [f for _ in range(max(1, repeats // 3)) for f in pan_frames(span * 0.01)]
    view.close()

    # -- every point handed to a plain PlotCurveItem (what decimation avoids) --
    plain = pg.PlotWidget()
    plain.resize(*SIZE)
    plain.show()
    pvb = plain.getPlotItem().getViewBox()
    pvb.disableAutoRange()
    plain.setXRange(x[0], x[-1], padding=0)
    plain.setYRange(float(y.min()), float(y.max()))
    settle()
    plain_firsts = []
    for _ in range(max(1, repeats // 3)):
        plain.clear()
        render(plain)
        plain_firsts.append(frame(
            lambda: plain.addItem(pg.PlotCurveItem(x, y, pen=pg.mkPen("w", width=1))), plain
        ))
    plain_pans = [
        frame(lambda x0=x0: pvb.setXRange(x0, x0 + span, padding=0), plain) for x0 in pans[:6]
    ]
    plain.close()

    def med(frames: list[tuple[float, float]]) -> tuple[float, float]:
        return (statistics.median(f[0] for f in frames), statistics.median(f[1] for f in frames))

    (fw, fc), (pw, pc), (zw, zc) = med(firsts), med(full), med(zoomed)
    (qw, qc), (rw, rc) = med(plain_firsts), med(plain_pans)
    print(f"1 M points, {SIZE[0]}×{SIZE[1]}, medians per frame: wall ms / GUI-thread CPU ms")
    print(f"first draw, decimated ({visible} points drawn): {fw:6.1f} / {fc:5.1f}  (goal ≤ 50)"
          f" · every point {qw:6.1f} / {qc:5.1f} · ratio ×{qc / fc:.1f} (CPU)")
    print(f"pan redraw, whole trace in view:           {pw:6.1f} / {pc:5.1f}  (goal ≤ 16)"
          f" · every point {rw:6.1f} / {rc:5.1f} · ratio ×{rc / pc:.1f} (CPU)")
    print(f"pan redraw, zoomed to 1 % (raw slice):     {zw:6.1f} / {zc:5.1f}  (goal ≤ 16)")


class _PaintCounter(QObject):
    """Count paint events of the widgets it filters."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


class _NoLink:
    """Stand-in for the link controller: the draw benchmark needs no instrument."""

    def __init__(self) -> None:
        from PySide6.QtCore import QObject, Signal

        class _Signals(QObject):
            state_changed = Signal(object)
            batch_received = Signal(object)

        self._signals = _Signals()
        self.state_changed = self._signals.state_changed
        self.batch_received = self._signals.batch_received
        from ctp10_gui.models.connection import LinkState, LinkStatus

        self.status = LinkStatus(LinkState.DISCONNECTED, 0, 0, "", None, 0.0)

    def request(self, *args: object, **kwargs: object) -> int:
        raise RuntimeError("the draw benchmark sends nothing to an instrument")


def main() -> None:
    """Run both benchmarks and print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=9, help="runs per median (≥ 1)")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    for block_trailer in (False, True):  # the simulator's default, then the variant
        bench_fetch(args.repeats, block_trailer)
    bench_draw(app, args.repeats)


if __name__ == "__main__":
    main()
