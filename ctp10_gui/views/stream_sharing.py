"""The stream server in the window: File-menu toggle, status-bar label, acquisition rate, events.

The server runs on the asyncio loop qasync drives in the GUI thread. This module feeds it what
the window knows (detector wavelengths, sweeps, references, recordings), lists its clients in
the Link health panel, and raises the acquisition rate while a client asks for more than the
GUI's poll interval.
"""

from __future__ import annotations

import asyncio
import logging
import math
import sys
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QInputDialog, QLabel, QVBoxLayout

from ctp10_gui.hardware.ctp10 import ReferenceResult
from ctp10_gui.models.connection import LinkHealth
from ctp10_gui.share.address import DEFAULT_HOST
from ctp10_gui.share.frames import STREAM_PATHS
from ctp10_gui.share.server import StreamServer

if TYPE_CHECKING:
    from ctp10_gui.views.main_window import MainWindow

log = logging.getLogger(__name__)

CLIENTS_REFRESH_MS = 1000
SWEEP_PROGRESS_STEP = 0.01  # a sweep_progress event per percent at most


def rate_text(interval_s: float) -> str:
    """Return an acquisition rate for interval_s (s > 0) as "100 Hz" or "0.5 Hz"."""
    hz = 1.0 / interval_s
    return f"{hz:.0f} Hz" if hz >= 10 else f"{hz:g} Hz"


class StreamSharing(QObject):
    """Owns the stream server of one window while it serves; None of it touches the driver."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.link = window.controller
        self.server: StreamServer | None = None
        self.status_label = QLabel("", window)
        self.status_label.setObjectName("streamStatus")
        self.status_label.hide()
        window.statusBar().addPermanentWidget(self.status_label)
        # Why the acquisition runs faster than the GUI asks, under the Acquisition panel's form.
        self.rate_label = QLabel("", window.live_controls)
        self.rate_label.setObjectName("streamRate")
        self.rate_label.setProperty("role", "hint")
        self.rate_label.setWordWrap(True)
        self.rate_label.hide()
        form_box = window.live_controls.layout()
        assert isinstance(form_box, QVBoxLayout)
        form_box.insertWidget(1, self.rate_label)
        self.demand_s: float | None = None
        self._achieved_hz: float | None = None
        self._sweep_fraction = -1.0
        self._stopping: asyncio.Task[None] | None = None
        menu = window.menus.file_menu
        self.serve_action = QAction("Serve live stream", window)
        self.serve_action.setCheckable(True)
        self.serve_action.setToolTip("Let other programs read the live data over WebSocket "
                                     "(this PC only)")
        self.serve_action.toggled.connect(self._serve_toggled)
        self.port_action = QAction("Live stream port…", window)
        self.port_action.triggered.connect(self.ask_port)
        quit_action = menu.actions()[-1]  # File ends with Quit: serving goes just above it
        menu.insertActions(quit_action, [self.serve_action, self.port_action])
        menu.insertSeparator(quit_action)
        self._clients_timer = QTimer(self)
        self._clients_timer.setInterval(CLIENTS_REFRESH_MS)
        self._clients_timer.timeout.connect(self._show_clients)
        self._wire()

    def _wire(self) -> None:
        w = self.window
        w.live_controls.interval_changed.connect(lambda _s: self._apply_rate())
        w.live_controls.wavelengths_read.connect(self._wavelengths_read)
        self.link.health_changed.connect(self._health)
        w.sweep.sweep_started.connect(lambda: self._publish("sweep_started", "sweep started"))
        w.sweep.sweep_finished.connect(
            lambda outcome, message: self._publish("sweep_finished", f"{outcome}: {message}",
                                                   outcome=outcome, message=message))
        w.sweep.progress.valueChanged.connect(self._sweep_progress)
        w.sweep.references_updated.connect(self._references)
        w.recording.recording_changed.connect(
            lambda on: self._publish("recording", "recording started" if on
                                     else "recording stopped", recording=bool(on)))
        w.recording.message.connect(lambda text: self._publish("recording_message", text))

    # ---- serving ----------------------------------------------------------------------------
    @property
    def serving(self) -> bool:
        """Return True while the server listens."""
        return self.server is not None and self.server.serving

    def _make_server(self, host: str, port: int) -> StreamServer:
        s = self.window.settings
        server = StreamServer(self.link, host, port, max_clients=s.stream_max_clients,
                              extra_origins=list(s.stream_origins),
                              on_clients_changed=lambda _n: self._show_status(),
                              on_demand_changed=self._demand_changed,
                              derived=lambda: self.window.derived.channels)
        module = self.window.live_controls.module
        server.set_wavelengths(module, self.window.hub.wavelengths)
        # Kept from now on: what the window reads while the server binds is the server's too.
        self.server = server
        return server

    def start_blocking(self, loop: asyncio.AbstractEventLoop, host: str, port: int) -> None:
        """Start serving before loop runs (--serve); OSError when the port is taken."""
        server = self._make_server(host, port)
        try:
            loop.run_until_complete(server.start())
        except OSError:
            self.server = None
            raise
        self._started(server)

    def _started(self, server: StreamServer) -> None:
        self._show_status()
        self._clients_timer.start()
        self._show_clients()
        self.serve_action.blockSignals(True)
        self.serve_action.setChecked(True)
        self.serve_action.blockSignals(False)
        if server.requested_port not in (0, self.window.settings.stream_port):
            self.set_port(server.requested_port)  # --serve PORT: the menu's port from now on
        if sys.stdout is not None:  # the line scripts and tests read the bound port from
            print(f"ctp10-gui: serving ws://{host_text(server.host)}:{server.port}"
                  f"{STREAM_PATHS[0]}", flush=True)

    async def stop(self) -> None:
        """Stop serving (bounded, about 1 s); the acquisition rate returns to the GUI's."""
        server, self.server = self.server, None
        self._clients_timer.stop()
        if server is not None:
            await server.stop()
        self._demand_changed(None)
        self._show_status()
        self._show_clients()
        self.serve_action.blockSignals(True)
        self.serve_action.setChecked(False)
        self.serve_action.blockSignals(False)

    def _serve_toggled(self, on: bool) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._failed("the app's event loop is not running")
            return
        if on and not self.serving:
            port = self.window.settings.stream_port
            server = self._make_server(DEFAULT_HOST, port)
            task = loop.create_task(server.start())
            task.add_done_callback(lambda t: self._start_done(t, server))
        elif not on and self.server is not None:
            self._stopping = loop.create_task(self.stop())

    def _start_done(self, task: asyncio.Task[None], server: StreamServer) -> None:
        exc = task.exception()
        if exc is None:
            self._started(server)
        else:
            self.server = None
            self._failed(f"cannot serve on {server.host}:{server.requested_port}: {exc}")

    def _failed(self, why: str) -> None:
        log.error("stream not served: %s", why)
        self.serve_action.blockSignals(True)
        self.serve_action.setChecked(False)
        self.serve_action.blockSignals(False)
        self.window.show_message("Stream not served", f"The live stream is not served: {why}.")

    def ask_port(self) -> None:
        """Ask for the port "Serve live stream" listens on (used from the next start)."""
        port, ok = QInputDialog.getInt(
            self.window, "Live stream port", "TCP port for Serve live stream (0: any free port):",
            self.window.settings.stream_port, 0, 65535)
        if ok:
            self.set_port(port)

    def set_port(self, port: int) -> None:
        """Remember port (0–65535) for the next start of the server."""
        self.window.settings.stream_port = int(port)
        self.window.save_settings()

    # ---- what the window shows -------------------------------------------------------------
    def _show_status(self) -> None:
        server = self.server
        if server is None or not server.serving:
            self.status_label.hide()
            return
        n = len(server.clients)
        where = (f"Serving on {host_text(server.host)}:{server.port} · "
                 f"{n} client{'s' * (n != 1)}")
        self.status_label.setText(
            where if server.loopback else f"⚠ {where}, open to other computers")
        self.status_label.setToolTip(f"ws://{host_text(server.host)}:{server.port}"
                                     f"{STREAM_PATHS[0]} (see the README)")
        self.status_label.show()

    def _show_clients(self) -> None:
        self.window.health.set_stream_clients(
            list(self.server.clients) if self.server is not None else None)

    # ---- acquisition rate --------------------------------------------------------------------
    def _demand_changed(self, interval_s: float | None) -> None:
        self.demand_s = interval_s
        self._apply_rate()

    def _apply_rate(self) -> None:
        """Acquire at the faster of the GUI's poll interval and the fastest client's."""
        gui_s = self.window.live_controls.interval_s
        demand = self.demand_s
        faster = demand is not None and demand < gui_s
        effective = demand if faster and demand is not None else gui_s
        if not math.isclose(self.link.settings.interval_s, effective):
            self.link.set_interval(effective)
            self.window.live_history.set_poll_interval(effective)
            self.window.hub.set_stale_after(self.window.live_history.stale_after_s)
        self._show_rate(effective if faster else None)

    def _show_rate(self, raised_s: float | None) -> None:
        if raised_s is None:
            self.rate_label.hide()
            return
        text = f"{rate_text(raised_s)} for a stream client"
        achieved = self._achieved_hz
        if achieved is not None and 0 < achieved < 0.9 / raised_s:
            text += f" (the instrument delivers {achieved:.0f} Hz)"
        self.rate_label.setText(text)
        self.rate_label.show()

    def _health(self, health: LinkHealth) -> None:
        self._achieved_hz = float(health.achieved_hz)
        if self.rate_label.isVisible() and self.demand_s is not None:
            self._show_rate(self.demand_s)

    # ---- what the server tells its clients -----------------------------------------------------
    def _wavelengths_read(self, waves: dict[int, float]) -> None:
        if self.server is not None:
            self.server.set_wavelengths(self.window.live_controls.module, waves)

    def _publish(self, kind: str, text: str, **extra: object) -> None:
        if self.server is not None and self.server.serving:
            self.server.publish_event(kind, text, **extra)

    def _sweep_progress(self, value: int) -> None:
        bar = self.window.sweep.progress
        span = bar.maximum() - bar.minimum()
        fraction = (value - bar.minimum()) / span if span > 0 else 0.0
        if fraction < self._sweep_fraction or fraction - self._sweep_fraction >= \
                SWEEP_PROGRESS_STEP or fraction >= 1.0:
            self._sweep_fraction = fraction
            self._publish("sweep_progress", f"{100 * fraction:.0f} %",
                          fraction=round(fraction, 4),
                          operation=bar.format().replace("%p%", "").strip())

    def _references(self, results: list[tuple[int, int, ReferenceResult]]) -> None:
        refs = [{"module": m, "channel": c, "state": r.state, "type": r.type,
                 "taken": r.taken.isoformat() if r.taken is not None else None}
                for m, c, r in results]
        self._publish("references", f"references of {len(refs)} detector(s) updated",
                      references=refs)


def host_text(host: str) -> str:
    """Return host as it is written in a URL (IPv6 in brackets)."""
    return f"[{host}]" if ":" in host else host
