"""The main window: wires the controller, models and views together; computes nothing itself."""

from __future__ import annotations

import base64
import logging
import math
import time
from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtCore import QByteArray, QObject, Qt, QUrl, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from ctp10_gui import __version__
from ctp10_gui.models.connection import LinkState, stale_after_s
from ctp10_gui.models.readout import ReadoutModel
from ctp10_gui.models.settings import AppSettings, SettingsStore, log_dir
from ctp10_gui.views.big_numbers import BigNumbersWindow
from ctp10_gui.views.connect_dialog import ConnectDialog
from ctp10_gui.views.health_panel import HealthPanel
from ctp10_gui.views.live_controls import LiveControls
from ctp10_gui.views.readouts import ReadoutHub, ReadoutPanel
from ctp10_gui.views.shortcuts_dialog import shortcuts_action
from ctp10_gui.views.status_badges import StatusBadges
from ctp10_gui.views.strip_chart import StripChart
from ctp10_gui.views.theme import Theme, app_icon, apply_theme, theme_named

log = logging.getLogger(__name__)

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
    """Badges, readouts and strip chart; extension points for the other panels."""

    closed = Signal()

    def __init__(
        self, controller: QObject, settings: AppSettings, store: SettingsStore, *,
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
        self.big_numbers: BigNumbersWindow | None = None
        self.theme: Theme = theme_named(settings.theme)
        self.setWindowTitle("CTP10 Live Power")
        self.setWindowIcon(app_icon())
        self.setObjectName("mainWindow")

        # ---- models -------------------------------------------------------------------
        self.readout_model = ReadoutModel(settings.channels, module=settings.module)
        self.hub = ReadoutHub(self.readout_model, settings.references,
                              persist=self.save_settings, unit=settings.power_unit,
                              clock=clock, parent=self)
        self.hub.set_stale_after(self._stale_s(settings.poll_interval_s))

        # ---- central area ------------------------------------------------------------
        central = QWidget(self)
        outer = QVBoxLayout(central)
        outer.setContentsMargins(6, 4, 6, 4)
        top = QHBoxLayout()
        self.badges = StatusBadges(controller, clock=clock, is_simulator=self.on_simulator,
                                   parent=central)
        top.addWidget(self.badges, 1)
        outer.addLayout(top)
        self.tabs = QTabWidget(central)
        outer.addWidget(self.tabs, 1)
        self.readouts = ReadoutPanel(self.hub, self.theme)
        self.readouts.setMinimumHeight(160)
        self.chart = StripChart(self.theme, window_s=settings.window_s,
                                min_span_db=settings.min_span_db,
                                poll_interval_s=settings.poll_interval_s, clock=clock)
        self.chart.set_channels(settings.module, settings.channels)
        live = QSplitter(Qt.Orientation.Vertical)
        live.addWidget(self.readouts)
        live.addWidget(self.chart)
        live.setStretchFactor(0, 2)
        live.setStretchFactor(1, 3)
        live.setSizes([400, 500])  # readouts get ~45 %: they are read from across the lab
        live.setChildrenCollapsible(False)
        self.live_splitter = live
        self.tabs.addTab(live, "Live")
        self.setCentralWidget(central)

        # ---- docks ---------------------------------------------------------------------
        self.live_controls = LiveControls(
            controller, module=settings.module, channels=settings.channels,
            interval_s=settings.poll_interval_s, live=settings.live, unit=settings.power_unit)
        self.controls_dock = self.add_dock(self.live_controls, "Acquisition",
                                           Qt.DockWidgetArea.LeftDockWidgetArea)
        self.health = HealthPanel(controller)
        self.health_dock = self.add_dock(self.health, "Link health",
                                         Qt.DockWidgetArea.LeftDockWidgetArea)
        self.tabifyDockWidget(self.controls_dock, self.health_dock)
        self.controls_dock.raise_()

        # ---- status bar ----------------------------------------------------------------
        self.address_label = QLabel("Not connected", self)
        self.address_label.setProperty("role", "hint")
        self.statusBar().addPermanentWidget(self.address_label)

        self._build_actions()
        self._wire()
        self.apply_theme(self.theme.name)
        self.resize(1400, 900)
        self._restore_layout()
        self._status_changed(controller.status)

    # ---- extension API (the lead wires the other panels here) -----------------------------
    def add_tab(self, widget: QWidget, title: str) -> int:
        """Add a tab next to "Live"; return its index."""
        return self.tabs.addTab(widget, title)

    def add_dock(self, widget: QWidget, title: str,
                 area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea) -> QDockWidget:
        """Add a dockable panel (its visibility is saved with the window layout)."""
        dock = QDockWidget(title, self)
        dock.setObjectName("dock_" + "".join(ch if ch.isalnum() else "_" for ch in title))
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        if hasattr(self, "view_menu"):
            self.view_menu.addAction(dock.toggleViewAction())
        else:
            self._pending_dock_actions = [*getattr(self, "_pending_dock_actions", []), dock]
        return dock

    def add_status_widget(self, widget: QWidget) -> None:
        """Add a permanent widget to the status bar (left of the address)."""
        self.statusBar().insertPermanentWidget(0, widget)

    def add_toolbar_action(self, action: QAction) -> None:
        """Add an action to the main toolbar."""
        self.toolbar.addAction(action)

    def add_menu(self, title: str) -> QMenu:
        """Add a menu to the menu bar, before Help."""
        menu = QMenu(title, self)
        self.menuBar().insertMenu(self._help_menu.menuAction(), menu)
        return menu

    def add_file_action(self, action: QAction) -> None:
        """Add an action to the File menu, above Quit."""
        self.file_menu.insertAction(self._quit_separator, action)

    # ---- actions -------------------------------------------------------------------------
    def _build_actions(self) -> None:
        self.connect_action = QAction("&Connect…", self)
        self.connect_action.setShortcut(QKeySequence("Ctrl+K"))
        self.connect_action.setToolTip("Connect to a CTP10 or the built-in simulator (Ctrl+K)")
        self.connect_action.triggered.connect(self.open_connect_dialog)
        self.disconnect_action = QAction("&Disconnect", self)
        self.disconnect_action.setShortcut(QKeySequence("Ctrl+D"))
        self.disconnect_action.setToolTip("Close the link and stop reconnecting (Ctrl+D)")
        self.disconnect_action.triggered.connect(self.controller.disconnect_link)
        self.retry_action = QAction("&Retry now", self)
        self.retry_action.setShortcut(QKeySequence("Ctrl+R"))
        self.retry_action.setToolTip("Reconnect at once, without waiting (Ctrl+R)")
        self.retry_action.triggered.connect(self.controller.retry_now)
        for action in (self.disconnect_action, self.retry_action):
            # Also from the full-screen big-numbers window.
            action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        self.big_action = QAction("&Big numbers", self)
        self.big_action.setShortcut(QKeySequence("F11"))
        self.big_action.setCheckable(True)
        self.big_action.setToolTip("Full-screen readouts (F11, Esc to leave)")
        self.big_action.toggled.connect(self.set_big_numbers)
        self.pause_action = QAction("&Freeze chart", self)
        self.pause_action.setShortcut(QKeySequence("Ctrl+F"))
        self.pause_action.setCheckable(True)
        self.pause_action.toggled.connect(self.chart.set_paused)
        self.chart.paused_changed.connect(self.pause_action.setChecked)
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)

        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        for action in (self.connect_action, self.disconnect_action, self.retry_action):
            file_menu.addAction(action)
        file_menu.addSeparator()
        self._quit_separator = file_menu.addSeparator()
        file_menu.addAction(quit_action)
        self.file_menu = file_menu
        self.view_menu = menu.addMenu("&View")
        self.view_menu.addAction(self.big_action)
        self.view_menu.addAction(self.pause_action)
        self.view_menu.addSeparator()
        group = QActionGroup(self)
        self.theme_actions: dict[str, QAction] = {}
        for name, label in (("dark", "&Dark theme (high contrast)"), ("light", "&Light theme")):
            action = QAction(label, self, checkable=True)
            action.setChecked(name == self.theme.name)
            action.triggered.connect(lambda _=False, n=name: self.apply_theme(n))
            group.addAction(action)
            self.view_menu.addAction(action)
            self.theme_actions[name] = action
        self.view_menu.addSeparator()
        for dock in getattr(self, "_pending_dock_actions", []):
            self.view_menu.addAction(dock.toggleViewAction())
        help_menu = menu.addMenu("&Help")
        self._help_menu = help_menu
        logs = QAction("Open &log folder", self)
        logs.triggered.connect(
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(log_dir()))))
        help_menu.addAction(shortcuts_action(self))
        help_menu.addAction(logs)
        about = QAction("&About", self)
        about.triggered.connect(self._about)
        help_menu.addAction(about)

        self.toolbar = QToolBar("Main", self)
        self.toolbar.setObjectName("toolbar_main")
        self.toolbar.setMovable(False)
        for action in (self.connect_action, self.disconnect_action, self.retry_action,
                       self.big_action):
            self.toolbar.addAction(action)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.toolbar)

    def _wire(self) -> None:
        c = self.controller
        c.batch_received.connect(self.hub.apply)
        c.batch_received.connect(self.chart.add_batch)
        c.state_changed.connect(self._status_changed)
        c.identity_changed.connect(self._identity_changed)
        self.badges.retry_requested.connect(c.retry_now)
        self.hub.references_changed.connect(self.chart.set_references)
        self.hub.unit_requested.connect(self.live_controls.request_unit)
        self.live_controls.unit_read.connect(self.hub.set_unit)
        self.live_controls.wavelengths_read.connect(self._wavelengths_read)
        self.live_controls.interval_changed.connect(self._interval_changed)
        self.readouts.big_numbers_requested.connect(lambda: self.big_action.setChecked(True))

    # ---- reactions -------------------------------------------------------------------------
    def on_simulator(self) -> bool:
        """Return True when the link points at the built-in simulator."""
        sim = self.simulator.address if self.simulator is not None else None
        return sim is not None and sim == getattr(self.controller, "address", None)

    def _status_changed(self, status: Any) -> None:
        self.hub.set_link_status(status)
        self.chart.set_link_state(status.state)
        state = status.state
        self.disconnect_action.setEnabled(state is not LinkState.DISCONNECTED)
        self.retry_action.setEnabled(state in _RETRY_STATES)
        self._show_address()

    def _identity_changed(self, identity: Any) -> None:
        serial = identity.serial if identity is not None else None
        self.hub.set_context(serial, self.live_controls.module, self.hub.wavelengths)
        self._show_address()

    def _wavelengths_read(self, waves: dict[int, float]) -> None:
        identity = getattr(self.controller, "identity", None)
        serial = identity.serial if identity is not None else None
        self.hub.set_context(serial, self.live_controls.module, waves)

    def _interval_changed(self, seconds: float) -> None:
        self.chart.set_poll_interval(seconds)
        self.hub.set_stale_after(self._stale_s(seconds))

    def _stale_s(self, interval_s: float) -> float:
        if self.settings.stale_after_s is not None:
            return self.settings.stale_after_s
        return stale_after_s(interval_s)

    def _show_address(self) -> None:
        address = getattr(self.controller, "address", None)
        identity = getattr(self.controller, "identity", None)
        if address is None:
            self.address_label.setText("Not connected")
            self.setWindowTitle("CTP10 Live Power")
            return
        who = "built-in simulator" if self.on_simulator() else address
        if identity is not None:
            who += f" · {identity.manufacturer} {identity.model} SN {identity.serial}"
        self.address_label.setText(who)
        self.setWindowTitle(f"CTP10 Live Power — {who}")

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
        self.chart.apply_theme(theme)
        self.readouts.apply_theme(theme)
        if self.big_numbers is not None:
            self.big_numbers.apply_theme(theme)
        action = self.theme_actions.get(theme.name)
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

    def _about(self) -> None:
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
        s.live = self.live_controls.live_box.isChecked()
        s.window_s = self.chart.window_s
        s.min_span_db = self.chart.autoscale.min_span
        s.power_unit = self.hub.unit
        s.theme = self.theme.name
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

    def restore_extension_layout(self) -> None:
        """Re-apply the saved dock layout after the lead added its docks and toolbars."""
        state = _unb64(self.settings.window_state_b64)
        if state is not None:
            self.restoreState(state)

    # ---- closing ---------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        """Save settings, close big numbers, stop the link (bounded), then close."""
        if not self._closing:
            self._closing = True
            self.save_settings()
            if self.big_numbers is not None:
                self.big_numbers.close()
                self.big_numbers.deleteLater()
                self.big_numbers = None
            for box in list(self._messages):
                box.close()
            self.controller.shutdown()
            self.closed.emit()
        event.accept()
