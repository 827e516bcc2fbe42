"""The main window: composes every panel around one link, wires them; computes nothing itself."""

from __future__ import annotations

import base64
import logging
import math
import time
from collections.abc import Callable
from typing import Protocol

from PySide6.QtCore import QByteArray, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ctp10_gui import __version__
from ctp10_gui.hardware.ctp10 import Identity, ReferenceResult
from ctp10_gui.hardware.scpi import DETECTOR_CHANNELS
from ctp10_gui.link.port import LinkPort
from ctp10_gui.models.channel_names import ChannelNames
from ctp10_gui.models.connection import LinkState, LinkStatus
from ctp10_gui.models.derived import DerivedChannel
from ctp10_gui.models.derived import from_settings as derived_from_settings
from ctp10_gui.models.derived_readings import DerivedReadings
from ctp10_gui.models.live_history import LiveHistory
from ctp10_gui.models.readout import ReadoutModel
from ctp10_gui.models.recording.events import (
    READOUTS_RESET_EVENT,
    REFERENCE_EVENT,
    SWEEP_EVENT,
    ReferenceChanges,
)
from ctp10_gui.models.recording.flight_recorder import FlightRecorder
from ctp10_gui.models.recording.live_recorder import LiveRecorder
from ctp10_gui.models.recording.recovery import RECORDING_FOLDERS_FILE, RecordingFolders
from ctp10_gui.models.settings import AppSettings, SettingsStore, data_dir, log_dir
from ctp10_gui.models.traces import TraceStore
from ctp10_gui.views.alignment_mode import AlignmentMode
from ctp10_gui.views.big_numbers import BigNumbersWindow
from ctp10_gui.views.connect_dialog import ConnectDialog
from ctp10_gui.views.derived_view import DerivedRow
from ctp10_gui.views.health_panel import HealthPanel
from ctp10_gui.views.instrument_panels import InstrumentPanel
from ctp10_gui.views.layout import ProportionalSplitter
from ctp10_gui.views.link_notices import connect_link_notices
from ctp10_gui.views.live_controls import LiveControls
from ctp10_gui.views.live_strip import LiveStrip
from ctp10_gui.views.main_menu import MainMenus
from ctp10_gui.views.main_view_notices import wire_main_view_notices
from ctp10_gui.views.readouts import ReadoutHub, ReadoutPanel
from ctp10_gui.views.recording_controls import RecordingControls
from ctp10_gui.views.status_badges import StatusBadges
from ctp10_gui.views.stream_sharing import StreamSharing
from ctp10_gui.views.strip_chart import StripChart
from ctp10_gui.views.sweep_panel import SweepPanel
from ctp10_gui.views.theme import Theme, app_icon, apply_theme, theme_named
from ctp10_gui.views.trace_view import TraceView

log = logging.getLogger(__name__)

TITLE = "CTP10 Live Power"
NOT_CONNECTED = "Not connected"
NOTICE_MS = 60_000  # long enough to be read after a glance back from the bench

_RETRY_STATES = {LinkState.RECONNECTING, LinkState.OFFLINE, LinkState.STALE}


class SimulatorHost(Protocol):
    """The built-in simulator as the window sees it: started on demand, one address."""

    @property
    def address(self) -> str | None:
        """Return the VISA address while running, else None."""
        ...

    def start(self) -> str:
        """Start (if needed) and return the VISA address."""
        ...


def _b64(data: QByteArray) -> str:
    return base64.b64encode(bytes(data.data())).decode("ascii")


def _unb64(text: str) -> QByteArray | None:
    if not text:
        return None
    try:
        return QByteArray(base64.b64decode(text.encode("ascii"), validate=True))
    except ValueError as exc:
        log.warning("stored window layout unreadable, using the default: %s", exc)
        return None


class MainWindow(QMainWindow):
    """The whole window: live readouts and chart, instrument, sweep and traces, recording."""

    # After the window saved its settings and stopped recording; the owner of the link
    # (app.build) shuts the link down on it.
    closed = Signal()
    theme_changed = Signal(object)  # Theme: every plot and card restyles from this one signal

    def __init__(
        self, controller: LinkPort, settings: AppSettings, store: SettingsStore, *,
        simulator: SimulatorHost | None = None, clock: Callable[[], float] = time.monotonic,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.settings = settings
        self.store = store
        self.simulator = simulator
        self._clock = clock
        self._closing = False
        self._messages: list[QMessageBox] = []
        self._identity: Identity | None = None
        self._identity_address: str | None = None  # the address that answered with it
        self.big_numbers: BigNumbersWindow | None = None
        self.theme: Theme = theme_named(settings.theme)
        self.setWindowTitle(TITLE)
        self.setWindowIcon(app_icon())
        self.setObjectName("mainWindow")

        # ---- models -------------------------------------------------------------------
        self.readout_model = ReadoutModel(settings.channels, module=settings.module,
                                          peak_average_s=settings.peak_average_s)
        self.hub = ReadoutHub(self.readout_model, settings.references,
                              persist=self.save_settings, unit=settings.power_unit,
                              clock=clock, parent=self,
                              names=ChannelNames(settings.channel_labels))
        self.live_history = LiveHistory(settings.poll_interval_s,
                                        stale_override_s=settings.stale_after_s, clock=clock)
        self.live_history.set_layout(settings.module, settings.channels)
        self.hub.set_stale_after(self.live_history.stale_after_s)
        self.derived = DerivedReadings(peak_average_s=settings.peak_average_s)
        # Before the focus view's own connection: it reads the derived values of each batch.
        controller.batch_received.connect(self.derived.apply)
        self.traces = TraceStore()
        self._reference_changes = ReferenceChanges()

        # ---- central area: badges and a notice over the tabs ------------------------------
        central = QWidget(self)
        outer = QVBoxLayout(central)
        outer.setContentsMargins(6, 4, 6, 4)
        top = QHBoxLayout()
        self.badges = StatusBadges(controller, clock=clock, is_simulator=self.on_simulator,
                                   parent=central)
        top.addWidget(self.badges, 1)
        outer.addLayout(top)
        self.notice_label = QLabel("", central)
        self.notice_label.setObjectName("windowNotice")
        self.notice_label.setProperty("role", "hint")
        self.notice_label.setWordWrap(True)
        self.notice_label.hide()
        outer.addWidget(self.notice_label)
        self._notice_timer = QTimer(self)
        self._notice_timer.setSingleShot(True)
        self._notice_timer.setInterval(NOTICE_MS)
        self._notice_timer.timeout.connect(self.notice_label.hide)
        self.live_strip = LiveStrip(self.hub, self.hub.names.title, central)
        outer.addWidget(self.live_strip)
        top.addWidget(self.live_strip.laser)  # beside the badges: seen on every tab
        self.tabs = QTabWidget(central)
        outer.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

        # ---- Live tab -------------------------------------------------------------------
        self.readouts = ReadoutPanel(self.hub, self.theme)
        self.readouts.setMinimumHeight(160)
        self.derived_row = DerivedRow(self.derived, self.hub)  # hidden while none is defined
        self.chart = StripChart(self.theme, self.live_history, window_s=settings.window_s,
                                min_span_db=settings.min_span_db, clock=clock)
        live = QSplitter(Qt.Orientation.Vertical)
        live.addWidget(self.readouts)
        live.addWidget(self.derived_row)
        live.addWidget(self.chart)
        live.setStretchFactor(0, 2)
        live.setStretchFactor(1, 1)
        live.setStretchFactor(2, 3)
        live.setSizes([400, 110, 500])  # readouts get ~45 %: read from across the lab
        live.setChildrenCollapsible(False)
        self.live_splitter = live
        self.alignment = AlignmentMode(controller, self.hub, self.live_history, self.theme,
                                       settings, live, names=self.hub.names.title,
                                       derived=self.derived, parent=self)
        self.tabs.addTab(self.alignment.stack, "Live")

        # ---- Instrument and Sweep & traces tabs ---------------------------------------------
        self.instrument = InstrumentPanel(controller)
        self.tabs.addTab(self.instrument, "Instrument")
        self.sweep = SweepPanel(controller, self.traces)
        self.trace_view = TraceView(self.traces, controller, theme=self.theme)
        # One third for the sweep controls, two thirds for the traces they produce.
        sweep_and_traces = ProportionalSplitter(Qt.Orientation.Horizontal, (1, 2))
        sweep_and_traces.addWidget(self.sweep)
        sweep_and_traces.addWidget(self.trace_view)
        sweep_and_traces.setStretchFactor(1, 3)
        self.tabs.addTab(sweep_and_traces, "Sweep && traces")

        # ---- docks -------------------------------------------------------------------------
        self.live_controls = LiveControls(
            controller, module=settings.module, channels=settings.channels,
            interval_s=settings.poll_interval_s, live=settings.live, unit=settings.power_unit)
        self.controls_dock = self._dock(self.live_controls, "Acquisition")
        self.health = HealthPanel(controller)
        self.health_dock = self._dock(self.health, "Link health")
        self.tabifyDockWidget(self.controls_dock, self.health_dock)
        self.controls_dock.raise_()

        # ---- status bar: recording state, then the address -----------------------------------
        folders = RecordingFolders(data_dir() / RECORDING_FOLDERS_FILE)
        self.recording = RecordingControls(
            controller, FlightRecorder(minutes=settings.flight_recorder_minutes), settings,
            recorder=LiveRecorder(folders=folders), persist=self.save_settings)
        self.trace_view.files.remember_folders_in(settings, persist=self.save_settings)
        self.chart_frozen_wall: float | None = None  # wall time the chart was paused at
        self.recording.record_button.hide()  # Record sits in the toolbar
        self.statusBar().addPermanentWidget(self.recording)
        self.address_label = QLabel(NOT_CONNECTED, self)
        self.address_label.setProperty("role", "hint")
        self.statusBar().addPermanentWidget(self.address_label)

        self.menus = MainMenus(self)
        self.connect_action = self.menus.connect_action
        self.disconnect_action = self.menus.disconnect_action
        self.retry_action = self.menus.retry_action
        self.big_action = self.menus.big_action
        self._wire()
        self.sharing = StreamSharing(self)  # the stream server's menu, label, rate and events
        self.apply_theme(self.theme.name)
        self.resize(1400, 900)
        self._restore_layout()
        self._status_changed(controller.status)

    def _dock(self, widget: QWidget, title: str) -> QDockWidget:
        """Dock widget on the left; its visibility is saved with the window layout."""
        dock = QDockWidget(title, self)
        dock.setObjectName("dock_" + "".join(ch if ch.isalnum() else "_" for ch in title))
        dock.setWidget(widget)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        return dock

    def _wire(self) -> None:
        c = self.controller
        c.batch_received.connect(self.hub.apply)
        c.batch_received.connect(self.live_history.append)
        c.state_changed.connect(self._status_changed)
        c.identity_changed.connect(self._identity_changed)
        self.badges.retry_requested.connect(c.retry_now)
        self.badges.edit_address_requested.connect(self.open_connect_dialog)
        self.hub.references_changed.connect(self.chart.set_references)
        self.hub.unit_requested.connect(self.live_controls.request_unit)
        self.hub.readouts_reset.connect(self._readouts_reset)
        self.hub.names_changed.connect(self._names_changed)
        # The strip shows the focused channels wherever the Live tab (which has them) is not.
        self.alignment.focus.focus_changed.connect(self.live_strip.set_focus)
        self.live_strip.set_focus(self.alignment.focus.focus)
        self.tabs.currentChanged.connect(
            lambda i: self.live_strip.setVisible(self.tabs.widget(i) is not self.alignment.stack))
        self.live_strip.setVisible(self.tabs.currentWidget() is not self.alignment.stack)
        c.state_changed.connect(self.live_strip.laser.set_link_status)
        self.instrument.rlaser_form.value_read.connect(self._reference_laser_read)
        self._names_changed()
        self.readouts.reset_peaks_action.triggered.connect(self.derived.reset_peaks)
        self.readouts.reset_all_button.clicked.connect(self.derived.reset_peaks)
        self._load_derived()
        self.live_controls.unit_read.connect(self.hub.set_unit)
        self.live_controls.wavelengths_read.connect(self._wavelengths_read)
        self.live_controls.interval_changed.connect(self._interval_changed)
        self.unit_notices = wire_main_view_notices(self)
        self.readouts.big_numbers_requested.connect(lambda: self.big_action.setChecked(True))
        self.recording.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        # Sweeps and reference changes are event rows of the recordings; the wavelengths read
        # back go in their sidecars.
        self.sweep.sweep_started.connect(lambda: self.recording.record_event(SWEEP_EVENT,
                                                                             "started"))
        self.sweep.sweep_finished.connect(
            lambda outcome, message: self.recording.record_event(SWEEP_EVENT,
                                                                 f"{outcome}: {message}"))
        self.sweep.references_updated.connect(self._record_references)
        self.live_controls.wavelengths_read.connect(self.recording.set_wavelengths)
        # Every file carries the instrument's state: read again after anything that may change
        # it; a setting set in a form is an event row at once.
        self.recording.instrument_state_changed.connect(self.traces.set_instrument_state)
        for form in self.instrument.forms.values():
            form.value_set.connect(lambda name, value, f=form:
                                   self.recording.note_setting(f.group, name, value))
        for signal in (self.live_controls.wavelengths_read, self.live_controls.unit_read,
                       self.sweep.sweep_finished, self.sweep.references_updated):
            signal.connect(self.recording.schedule_state_read)
        connect_link_notices(self.controller, self.show_notice, self.recording.schedule_state_read)
        self.chart.paused_changed.connect(
            lambda paused: setattr(self, "chart_frozen_wall", time.time() if paused else None))
        self.theme_changed.connect(self.chart.apply_theme)
        self.theme_changed.connect(self.readouts.apply_theme)
        self.theme_changed.connect(self.alignment.apply_theme)
        self.alignment.tone.message.connect(lambda text: self.statusBar().showMessage(text, 15000))
        self.theme_changed.connect(self.trace_view.set_theme)

    # ---- reactions -------------------------------------------------------------------------
    def on_simulator(self) -> bool:
        """Return True when the link points at the built-in simulator."""
        sim = self.simulator.address if self.simulator is not None else None
        return sim is not None and sim == self.controller.address

    @property
    def identity(self) -> Identity | None:
        """Return the identity the current address answered with, None before it answered."""
        if self._identity_address is None or self._identity_address != self.controller.address:
            return None
        return self._identity

    def _status_changed(self, status: LinkStatus) -> None:
        state = status.state
        if state is LinkState.CONNECTING and self.controller.address != self._identity_address:
            # Another address: nothing of the previous instrument is shown or kept.
            self._identity = None
            self._identity_address = None
        self.hub.set_instrument(self.controller.address, self.serial())
        self.hub.set_link_status(status)
        self.live_history.set_link_state(state)
        self.disconnect_action.setEnabled(state is not LinkState.DISCONNECTED)
        self.retry_action.setEnabled(state in _RETRY_STATES)
        self._show_address()

    def _identity_changed(self, identity: Identity | None) -> None:
        self._identity = identity
        self._identity_address = self.controller.address if identity is not None else None
        self.hub.set_instrument(self.controller.address, self.serial())
        self.hub.set_context(self.hub.serial, self.live_controls.module, self.hub.wavelengths)
        self._show_address()

    def serial(self) -> str | None:
        identity = self.identity
        return identity.serial if identity is not None else None

    def _reference_laser_read(self, name: str, value: object) -> None:
        """Show a reference laser's output state, read or set, on the LASER ON light."""
        if name == "output":
            laser = self.instrument.rlaser_form.group.index[0]
            self.live_strip.laser.laser_read(laser, bool(value))

    def _record_references(self, results: list[tuple[int, int, ReferenceResult]]) -> None:
        for text in self._reference_changes.changes(results):
            self.recording.record_event(REFERENCE_EVENT, text)

    def _wavelengths_read(self, waves: dict[int, float]) -> None:
        self.hub.set_context(self.hub.serial, self.live_controls.module, waves)

    def set_derived(self, channels: list[DerivedChannel]) -> None:
        """Use these derived channels (cards, focus picker) and keep them in the settings."""
        self.derived.set_channels(channels)
        self.live_history.set_derived(channels)
        self.settings.derived_channels = [{"name": c.name, "expression": c.expression}
                                          for c in channels]
        self.derived_row.rebuild()
        self.alignment.focus.sync_channels()
        self.save_settings()

    def _load_derived(self) -> None:
        good, problems = derived_from_settings(self.settings.derived_channels)
        for problem in problems:
            self.show_notice(problem)
        self.derived.set_channels(good)
        self.live_history.set_derived(good)
        self.derived_row.rebuild()
        self.alignment.focus.sync_channels()
        self.alignment.focus.set_focus(list(self.settings.focus_channels))

    def _names_changed(self) -> None:
        self.chart.set_channel_names({ch: self.hub.title(ch) for ch in range(DETECTOR_CHANNELS[0],
                                                                 DETECTOR_CHANNELS[1] + 1)})
        self.alignment.focus.rename()
        self.live_strip.set_focus(self.alignment.focus.focus)

    def _readouts_reset(self, why: str) -> None:
        """Say in the window and in the recordings that peaks and statistics started afresh."""
        text = f"Peaks, Δ to peak and ages reset: {why}."
        self.show_notice(text)
        self.recording.flight_recorder.add_event(READOUTS_RESET_EVENT, text)
        self.recording.recorder.write_event(READOUTS_RESET_EVENT, text)

    def show_notice(self, text: str) -> None:
        """Show a notice above the tabs for a minute, stamped with the local time."""
        self.notice_label.setText(f"{time.strftime('%H:%M:%S')} · {text}")
        self.notice_label.show()
        self._notice_timer.start()

    def _interval_changed(self, seconds: float) -> None:
        self.live_history.set_poll_interval(seconds)
        self.hub.set_stale_after(self.live_history.stale_after_s)

    def where_text(self) -> str:
        """Return what the status bar and title name: address, then the instrument that answered.

        While a new address is being opened this is "connecting to <address>…" and nothing of
        the instrument seen before.
        """
        address = self.controller.address
        if address is None:
            return NOT_CONNECTED
        where = "built-in simulator" if self.on_simulator() else address
        if self.controller.status.state is LinkState.CONNECTING:
            return f"connecting to {where}…"
        identity = self.identity
        if identity is not None:
            where += f" · {identity.manufacturer} {identity.model} SN {identity.serial}"
        return where

    def _show_address(self) -> None:
        who = self.where_text()
        self.address_label.setText(who)
        self.setWindowTitle(TITLE if who == NOT_CONNECTED else f"{TITLE} — {who}")

    # ---- user commands -------------------------------------------------------------------
    def open_connect_dialog(self) -> None:
        """Ask where to connect, then connect."""
        dialog = ConnectDialog(self.settings.recent_addresses, self.settings.address,
                               use_simulator=self.settings.use_simulator, parent=self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        if dialog.use_simulator:
            self.connect_simulator()
        elif dialog.address is not None:
            self.connect_address(dialog.address)

    def connect_simulator(self, *, remember: bool = True) -> None:
        """Start the built-in simulator if needed and connect to it (remember: next start too)."""
        if self.simulator is None:
            self.show_message("Simulator unavailable", "This window has no built-in simulator.")
            return
        try:
            address = self.simulator.start()
        except OSError as exc:
            log.error("built-in simulator failed to start: %s", exc)
            self.show_message("Simulator did not start", f"The built-in simulator failed: {exc}")
            return
        if remember:
            self.settings.use_simulator = True
        self.controller.connect_to(address)

    def connect_address(self, address: str) -> None:
        """Connect to an instrument address (host[:port] or VISA) and remember it."""
        try:
            self.controller.connect_to(address)
        except ValueError as exc:
            self.show_message("Address not valid", str(exc))
            return
        self.settings.remember_address(address)

    def connect_initial(self) -> None:
        """Connect where the settings say: the simulator until an instrument is configured."""
        if self.settings.address is None or self.settings.use_simulator:
            self.connect_simulator()
        else:
            self.connect_address(self.settings.address)

    def set_big_numbers(self, on: bool) -> None:
        """Show (True) or close (False) the full-screen big-numbers window."""
        if on:
            if self.big_numbers is None:
                self.big_numbers = BigNumbersWindow(self.hub, self.controller, self.theme,
                                                    is_simulator=self.on_simulator,
                                                    clock=self._clock)
                self.big_numbers.setWindowIcon(app_icon())
                self.big_numbers.closed.connect(lambda: self.big_action.setChecked(False))
                self.theme_changed.connect(self.big_numbers.apply_theme)
            self.big_numbers.show_full_screen(self.screen())
            self.big_numbers.activateWindow()
        elif self.big_numbers is not None and self.big_numbers.isVisible():
            self.big_numbers.close()
        if self.big_action.isChecked() != on:
            self.big_action.setChecked(on)

    def apply_theme(self, name: str) -> None:
        """Switch the whole app to theme name ("dark" or "light")."""
        app = QApplication.instance()
        theme = apply_theme(app, name) if isinstance(app, QApplication) else theme_named(name)
        self.theme = theme
        self.settings.theme = theme.name
        self.theme_changed.emit(theme)
        action = self.menus.theme_actions.get(theme.name)
        if action is not None and not action.isChecked():
            action.setChecked(True)

    def show_message(self, title: str, text: str) -> QMessageBox:
        """Show a non-modal message that does not stop acquisition; return the box."""
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok,
                          self)
        box.setModal(False)
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _r, b=box: self._messages.remove(b) if b in self._messages
                             else None)
        self._messages.append(box)
        box.show()
        return box

    @property
    def messages(self) -> list[QMessageBox]:
        """Return the non-modal messages currently shown."""
        return list(self._messages)

    def show_about(self) -> None:
        QMessageBox.about(self, "About CTP10 Live Power",
                          f"CTP10 Live Power {__version__}\n\nLive optical power, lasers, sweeps "
                          f"and traces for the EXFO CTP10.\nLogs: {log_dir()}")

    # ---- settings --------------------------------------------------------------------------
    def collect_settings(self) -> AppSettings:
        """Copy what the user set in the window into the settings object; return it."""
        s = self.settings
        s.module = self.live_controls.module
        s.channels = list(self.live_controls.channels)
        interval = self.live_controls.interval_s
        s.poll_interval_s = interval if math.isfinite(interval) and interval >= 0.001 else 0.001
        s.live = self.live_controls.wants_live
        s.window_s = self.chart.window_s
        s.min_span_db = self.chart.autoscale.min_span
        s.power_unit = self.hub.unit
        s.theme = self.theme.name
        self.alignment.collect(s)
        s.geometry_b64 = _b64(self.saveGeometry())
        s.window_state_b64 = _b64(self.saveState())
        return s

    def save_settings(self) -> bool:
        """Save the settings file now; False (and a message) if it cannot be written."""
        try:
            self.store.save(self.collect_settings())
        except OSError as exc:
            log.error("settings not saved to %s: %s", self.store.path, exc)
            if not self._closing:
                self.show_message("Settings not saved",
                                  f"Settings could not be written to {self.store.path}: {exc}")
            return False
        return True

    def _restore_layout(self) -> None:
        geometry = _unb64(self.settings.geometry_b64)
        if geometry is not None and not self.restoreGeometry(geometry):
            log.warning("stored window geometry not applicable; default size used")
        state = _unb64(self.settings.window_state_b64)
        if state is not None and not self.restoreState(state):
            log.warning("stored dock layout not applicable; default layout used")

    # ---- closing ---------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        """Save settings, close big numbers and messages, stop recording, then say closed."""
        if not self._closing:
            self._closing = True
            self.save_settings()
            if self.big_numbers is not None:
                self.big_numbers.close()
                self.big_numbers.deleteLater()
                self.big_numbers = None
            for box in list(self._messages):
                box.close()
            self.alignment.shutdown()
            self.recording.shutdown()  # the writer completes the sidecar before the link stops
            self.closed.emit()
        event.accept()
