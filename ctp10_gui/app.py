"""Start the app: arguments, logging, settings, the built-in simulator, the window, clean exit."""

from __future__ import annotations

import argparse
import gc
import logging
import logging.handlers
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from pyqtgraph.util.garbage_collector import GarbageCollector
from PySide6.QtCore import QTimer, QtMsgType, qInstallMessageHandler
from PySide6.QtWidgets import QApplication, QMessageBox

from ctp10_gui import __version__
from ctp10_gui.display_check import prepare_platform
from ctp10_gui.event_loop import run_event_loop
from ctp10_gui.hardware.transport import close_resource_manager, parse_address
from ctp10_gui.link.controller import LinkController
from ctp10_gui.models.connection import AcquisitionSettings, BackoffPolicy, LinkState
from ctp10_gui.models.recording.recovery import (
    RECORDING_FOLDERS_FILE,
    RecordingFolders,
    clean_leftovers,
)
from ctp10_gui.models.settings import AppSettings, SettingsStore, data_dir, log_dir
from ctp10_gui.process_signals import ProcessSignals
from ctp10_gui.share.address import parse_serve_address
from ctp10_gui.simulator.options import SimulatorOptions
from ctp10_gui.simulator.server import SimulatorServer
from ctp10_gui.views.main_window import MainWindow
from ctp10_gui.views.recording_controls import default_record_folder
from ctp10_gui.views.settings_autosave import SettingsAutosave
from ctp10_gui.views.theme import app_icon, apply_theme

log = logging.getLogger("ctp10_gui")

LOG_FILE = "ctp10-gui.log"
LOG_BYTES = 5_000_000  # per file; 5 files keep a few nights of outages at INFO
LOG_BACKUPS = 5
SCREENSHOT_TIMEOUT_S = 15.0
SCREENSHOT_SETTLE_S = 1.5  # live data for this long first, so the chart shows a curve


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line (argv without the program name; None: sys.argv[1:])."""
    p = argparse.ArgumentParser(
        prog="ctp10-gui",
        description="Live optical power, lasers, sweeps and traces for the EXFO CTP10.")
    p.add_argument("--simulate", action="store_true",
                   help="start the built-in simulator in the background and connect to it")
    p.add_argument("--address", metavar="ADDR",
                   help="instrument address: host, host:port or TCPIP::host::5025::SOCKET")
    p.add_argument("--log-level", metavar="LEVEL", type=str.upper,
                   choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
                   help="log level; the log is then also echoed to stderr")
    p.add_argument("--screenshot", metavar="PATH", type=Path,
                   help="save the window as PNG once live data is shown, then exit")
    p.add_argument("--record", metavar="FOLDER", type=Path,
                   help="record the live data into this folder")
    p.add_argument("--settings", metavar="PATH", type=Path,
                   help="use this settings file instead of the per-user one")
    p.add_argument("--serve", metavar="[HOST:]PORT",
                   help="serve the live stream to other programs (WebSocket /ws/power, "
                        "GET /health); HOST defaults to 127.0.0.1 (this PC only)")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p.parse_args(list(argv) if argv is not None else None)


def setup_logging(level: str | None, *, folder: Path | None = None) -> Path:
    """Log to a rotating file (and to stderr when level is given); return the file path."""
    folder = folder or log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOG_FILE
    root = logging.getLogger()
    numeric = getattr(logging, level) if level else logging.INFO
    root.setLevel(numeric)
    fmt = logging.Formatter("%(asctime)s %(levelname)-7s %(name)s [%(threadName)s] %(message)s")
    for handler in list(root.handlers):
        if getattr(handler, "_ctp10", False):
            root.removeHandler(handler)
            handler.close()
    file_handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8")
    file_handler.setFormatter(fmt)
    file_handler._ctp10 = True  # type: ignore[attr-defined]
    root.addHandler(file_handler)
    # A Windows GUI-script has no stderr at all: echo only where there is one.
    if level and sys.stderr is not None:
        echo = logging.StreamHandler(sys.stderr)
        echo.setFormatter(fmt)
        echo._ctp10 = True  # type: ignore[attr-defined]
        root.addHandler(echo)
    return path


def _qt_message(mode: QtMsgType, _context: object, message: str) -> None:
    """Route Qt's own warnings into the log instead of a console nobody reads."""
    level = {QtMsgType.QtDebugMsg: logging.DEBUG, QtMsgType.QtInfoMsg: logging.INFO,
             QtMsgType.QtWarningMsg: logging.WARNING}.get(mode, logging.ERROR)
    logging.getLogger("qt").log(level, "%s", message)


class BuiltinSimulator:
    """The in-process simulated CTP10, started on first use (or adopting a running server)."""

    def __init__(self, options: SimulatorOptions | None = None, *,
                 server: SimulatorServer | None = None) -> None:
        self._options = options
        self._server = server
        self._owned = server is None

    @property
    def server(self) -> SimulatorServer | None:
        """Return the running server, None before start()."""
        return self._server

    @property
    def address(self) -> str | None:
        """Return the simulator's VISA address while it runs, else None."""
        if self._server is None or not self._server.is_running:
            return None
        return self._server.address

    def start(self) -> str:
        """Start the simulator if needed (raises OSError if no port); return its address."""
        if self._server is None:
            self._server = SimulatorServer(self._options)
        if not self._server.is_running:
            self._server.start()
        return self._server.address

    def stop(self) -> None:
        """Stop the simulator if this object started it (bounded, < 0.5 s)."""
        if self._server is not None and self._owned:
            self._server.stop()


class ExceptionReporter:
    """Log every unexpected exception and show each distinct one once, without stopping."""

    def __init__(self) -> None:
        self.window: MainWindow | None = None
        self.seen: set[tuple[str, str]] = set()
        self._previous = sys.excepthook
        self._previous_thread = threading.excepthook

    def install(self) -> None:
        """Become sys.excepthook and threading.excepthook."""
        sys.excepthook = self.hook
        threading.excepthook = self._thread_hook

    def uninstall(self) -> None:
        """Restore the hooks found at install()."""
        sys.excepthook = self._previous
        threading.excepthook = self._previous_thread

    def hook(self, kind: type[BaseException], value: BaseException,
             tb: TracebackType | None) -> None:
        """Log the exception; show it once in a non-modal box (acquisition keeps running)."""
        if issubclass(kind, KeyboardInterrupt):
            self._previous(kind, value, tb)
            return
        log.critical("unexpected error", exc_info=(kind, value, tb))
        key = (kind.__name__, str(value))
        if key in self.seen:
            return
        self.seen.add(key)
        text = "".join(traceback.format_exception_only(kind, value)).strip()
        if self.window is not None and not self.window.isHidden():
            self.window.show_message(
                "Unexpected error",
                f"{text}\n\nThe error was logged in {log_dir()}. Acquisition continues; "
                "please send the log to support.")

    def _thread_hook(self, args: threading.ExceptHookArgs) -> None:
        log.critical("unexpected error in thread %s",
                     args.thread.name if args.thread else "?",
                     exc_info=args.exc_value)  # the exception carries its traceback


class ScreenshotTaker:
    """Save the window as PNG once live data is on screen; exit 0, or non-zero after a timeout."""

    def __init__(self, window: MainWindow, path: Path, app: QApplication, *,
                 timeout_s: float = SCREENSHOT_TIMEOUT_S,
                 settle_s: float = SCREENSHOT_SETTLE_S,
                 on_exit: Callable[[int], None] | None = None) -> None:
        self.window = window
        self.path = path
        self.app = app
        self.exit_code: int | None = None
        self._exit = on_exit or app.exit
        self.timeout_s = timeout_s
        self.settle_s = settle_s
        self.started = time.monotonic()
        self.live_since: float | None = None
        self.error: str | None = None
        self._timer = QTimer(window)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self._check)
        self._timer.start()

    def _check(self) -> None:
        now = time.monotonic()
        live = self.window.controller.status.state is LinkState.LIVE and self.window.chart.frames
        if live and self.window.chart.history.latest_t is not None:
            if self.live_since is None:
                self.live_since = now
            if now - self.live_since >= self.settle_s:
                self._timer.stop()
                self.window.chart.redraw()
                self.path.parent.mkdir(parents=True, exist_ok=True)
                if self.window.grab().save(str(self.path), "PNG"):
                    log.info("screenshot saved to %s", self.path)
                    self.exit_code = 0
                    self._exit(0)
                else:
                    self._fail(f"could not write the screenshot to {self.path}")
                return
        else:
            self.live_since = None
        if now - self.started > self.timeout_s:
            self._timer.stop()
            status = self.window.controller.status
            self._fail(f"no live data within {self.timeout_s:.0f} s (link {status.state.label}: "
                       f"{status.reason or 'no reason given'}); no screenshot taken")

    def _fail(self, message: str) -> None:
        self.error = message
        log.error("screenshot: %s", message)
        if sys.stderr is not None:
            print(f"ctp10-gui: {message}", file=sys.stderr)
        self.exit_code = 3
        self._exit(3)


@dataclass
class AppContext:
    """Everything build() makes: the process parts around the one window."""

    app: QApplication
    window: MainWindow
    controller: LinkController
    simulator: BuiltinSimulator
    store: SettingsStore
    settings: AppSettings
    args: argparse.Namespace
    reporter: ExceptionReporter
    log_path: Path
    record_folder: Path | None = None
    serve: tuple[str, int] | None = None  # --serve HOST:PORT of the stream server
    screenshot: ScreenshotTaker | None = None
    garbage_collector: GarbageCollector | None = None
    autosave: SettingsAutosave | None = None  # saves as settings change: a crash keeps them

    def shutdown(self) -> None:
        """Close the window (saves settings, stops the link), then the simulator."""
        self.window.close()
        self.controller.shutdown()
        self.simulator.stop()
        self.reporter.uninstall()
        if self.garbage_collector is not None:
            # No other thread of ours runs now: automatic collection is safe again.
            self.garbage_collector.timer.stop()
            self.garbage_collector = None
            gc.enable()


def acquisition_settings(s: AppSettings) -> AcquisitionSettings:
    """Return the link's settings from the app settings (bad back-off values -> defaults)."""
    try:
        backoff = BackoffPolicy(**s.backoff)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        log.warning("back-off settings unusable, defaults used: %s", exc)
        backoff = BackoffPolicy()
    return AcquisitionSettings(module=s.module, channels=tuple(s.channels),
                               interval_s=s.poll_interval_s, live=s.live,
                               stale_after_s=s.stale_after_s,
                               reply_deadline_s=s.reply_deadline_s, backoff=backoff)


def build(argv: Sequence[str] | None = None, *,
          simulator: BuiltinSimulator | None = None) -> AppContext:
    """Parse argv, set up logging and build the window (not yet shown or connected)."""
    args = parse_args(argv)
    log_path = setup_logging(args.log_level)
    log.info("ctp10-gui %s starting (Python %s)", __version__, sys.version.split()[0])
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        # Qt aborts the process (SIGABRT) when its platform plugin cannot start: check first.
        problem = prepare_platform(os.environ, screenshot=args.screenshot is not None)
        if problem is not None:
            log.error("%s", problem)
            raise SystemExit(problem)
        app = QApplication(sys.argv[:1])
    qInstallMessageHandler(_qt_message)
    app.setApplicationName("ctp10-gui")
    app.setApplicationDisplayName("CTP10 Live Power")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("ctp10-gui")
    app.setWindowIcon(app_icon())
    reporter = ExceptionReporter()
    reporter.install()
    store = SettingsStore(args.settings)
    settings = store.load()
    if args.address:
        try:
            parse_address(args.address)
        except ValueError as exc:
            raise SystemExit(f"ctp10-gui: {exc}") from None
        settings.remember_address(args.address)
    serve = None
    if args.serve is not None:
        try:
            serve = parse_serve_address(args.serve)
        except ValueError as exc:
            raise SystemExit(f"ctp10-gui: {exc}") from None
    apply_theme(app, settings.theme)
    controller = LinkController(acquisition_settings(settings))
    sim = simulator or BuiltinSimulator()
    window = MainWindow(controller, settings, store, simulator=sim)
    window.closed.connect(controller.shutdown)
    reporter.window = window
    return AppContext(app, window, controller, sim, store, settings, args, reporter, log_path,
                      record_folder=args.record, serve=serve,
                      autosave=SettingsAutosave(window))


def start(ctx: AppContext) -> None:
    """Show the window, report a settings problem, connect and arm --screenshot."""
    # A full garbage collection over the ~10^5 objects of Qt, pyqtgraph and numpy stalls every
    # thread for 50-150 ms (measured); frozen start-up objects are never scanned again.
    gc.freeze()
    # Python collects cycles in whichever thread happens to allocate: the acquisition worker,
    # the recording writer or the simulator. A QObject freed there takes Qt's connection lock,
    # then waits for the GIL that the GUI thread holds while it waits for that lock: the app
    # freezes (caught by py-spy in the test suite). So cycles are collected in the GUI thread
    # only, by a timer (pyqtgraph's collector, made for exactly this).
    ctx.garbage_collector = GarbageCollector(interval=1.0)
    ctx.window.show()
    if ctx.store.load_problem:
        ctx.window.show_message("Settings reset", ctx.store.load_problem)
    if ctx.args.simulate:
        ctx.window.connect_simulator(remember=False)
    else:
        ctx.window.connect_initial()
    recording = ctx.window.recording
    # Recordings a crash left unfinished are offered for closing (non-modal) before a new
    # recording starts, so the new one is never mistaken for a crashed one.
    # The folders of earlier --record runs are scanned too: a crash there is found at the next
    # start whatever its arguments.
    scan = [default_record_folder(ctx.settings)]
    if ctx.record_folder is not None:
        scan.append(ctx.record_folder)
    scan += RecordingFolders(data_dir() / RECORDING_FOLDERS_FILE).folders()
    for folder in dict.fromkeys(f.resolve() for f in scan):
        clean_leftovers(folder)
        recording.offer_recovery(folder)
    if ctx.record_folder is not None:
        recording.start_recording(ctx.record_folder)
    if ctx.args.screenshot is not None:
        ctx.screenshot = ScreenshotTaker(ctx.window, ctx.args.screenshot, ctx.app)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the app; return the exit status (0 fine, 2 bad arguments, 3 screenshot failed)."""
    try:
        ctx = build(argv)
    except SystemExit as exc:
        if isinstance(exc.code, str):
            if sys.stderr is not None:
                print(exc.code, file=sys.stderr)
            else:  # a GUI launch: no console to print to
                QMessageBox.critical(None, "CTP10 Live Power", exc.code)
            return 2
        raise
    start(ctx)
    # SIGTERM/SIGHUP/SIGINT end the event loop; the shutdown below closes as the window does.
    signals = ProcessSignals(lambda signum: ctx.app.exit(128 + signum))
    signals.install()
    try:
        rc = run_event_loop(ctx.app, ctx.window, ctx.serve)
    finally:
        signals.uninstall()
        ctx.shutdown()
        close_resource_manager()
        log.info("ctp10-gui stopped")
    return int(rc)


if __name__ == "__main__":  # pragma: no cover - python -m ctp10_gui.app
    sys.exit(main())
