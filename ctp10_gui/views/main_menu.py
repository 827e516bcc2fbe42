"""The main window's menus, toolbar and their actions: built once, wired to the window."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pyqtgraph as pg
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QActionGroup, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QToolBar

from ctp10_gui.models.settings import log_dir
from ctp10_gui.views.channel_names_dialog import ChannelNamesDialog
from ctp10_gui.views.derived_view import DerivedDialog
from ctp10_gui.views.plot_export import ImageNotes, chart_notes, export_plot_dialog, trace_notes
from ctp10_gui.views.shortcuts_dialog import shortcuts_action
from ctp10_gui.views.strip_chart_cursor import derived_legend

if TYPE_CHECKING:
    from ctp10_gui.views.main_window import MainWindow


class MainMenus:
    """File, View, Sweep and Help menus and the toolbar of one main window."""

    def __init__(self, w: MainWindow) -> None:
        self._window = w
        self.connect_action = QAction("&Connect…", w)
        self.connect_action.setShortcut(QKeySequence("Ctrl+K"))
        self.connect_action.setToolTip("Connect to a CTP10 or the built-in simulator (Ctrl+K)")
        self.connect_action.triggered.connect(w.open_connect_dialog)
        self.disconnect_action = QAction("&Disconnect", w)
        self.disconnect_action.setShortcut(QKeySequence("Ctrl+D"))
        self.disconnect_action.setToolTip("Close the link and stop reconnecting (Ctrl+D)")
        self.disconnect_action.triggered.connect(w.controller.disconnect_link)
        self.retry_action = QAction("&Retry now", w)
        self.retry_action.setShortcut(QKeySequence("Ctrl+R"))
        self.retry_action.setToolTip("Reconnect at once, without waiting (Ctrl+R)")
        self.retry_action.triggered.connect(w.controller.retry_now)
        for action in (self.disconnect_action, self.retry_action):
            # Also from the full-screen big-numbers window.
            action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        self.big_action = QAction("&Big numbers", w)
        self.big_action.setShortcut(QKeySequence("F11"))
        self.big_action.setCheckable(True)
        self.big_action.setToolTip("Full-screen readouts (F11, Esc to leave)")
        self.big_action.toggled.connect(w.set_big_numbers)
        self.pause_action = QAction("&Freeze chart", w)
        self.pause_action.setShortcut(QKeySequence("Ctrl+F"))
        self.pause_action.setCheckable(True)
        self.pause_action.toggled.connect(w.chart.set_paused)
        w.chart.paused_changed.connect(self.pause_action.setChecked)
        quit_action = QAction("&Quit", w)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(w.close)
        rec = w.recording

        menu = w.menuBar()
        self.file_menu = menu.addMenu("&File")
        for action in (self.connect_action, self.disconnect_action, self.retry_action):
            self.file_menu.addAction(action)
        self.file_menu.addSeparator()
        for action in (rec.record_action, rec.save_last_action, rec.folder_action,
                       rec.open_folder_action,
                       self._image_action("Export chart image…", w.chart.plot, "strip-chart",
                                          self._chart_notes),
                       self._image_action("Export trace image…", w.trace_view.plot,
                                          "traces", self._trace_notes)):
            self.file_menu.addAction(action)
        self.file_menu.addSeparator()
        self.file_menu.addAction(quit_action)
        self.view_menu = menu.addMenu("&View")
        self.view_menu.addAction(self.big_action)
        self.view_menu.addAction(self.pause_action)
        self.view_menu.addSeparator()
        for action in w.alignment.actions():
            self.view_menu.addAction(action)
        derived_action = QAction("&Derived channels…", w)
        derived_action.triggered.connect(
            lambda: DerivedDialog(w.derived, w.set_derived, w).exec())
        self.view_menu.addAction(derived_action)
        names_action = QAction("Channel &names…", w)
        names_action.triggered.connect(lambda: ChannelNamesDialog(w.hub, w).exec())
        self.view_menu.addAction(names_action)
        self.view_menu.addSeparator()
        group = QActionGroup(w)
        self.theme_actions: dict[str, QAction] = {}
        for name, label in (("dark", "&Dark theme (high contrast)"), ("light", "&Light theme")):
            action = QAction(label, w, checkable=True)
            action.setChecked(name == w.theme.name)
            action.triggered.connect(lambda _=False, n=name: w.apply_theme(n))
            group.addAction(action)
            self.view_menu.addAction(action)
            self.theme_actions[name] = action
        self.view_menu.addSeparator()
        for dock in (w.controls_dock, w.health_dock):
            self.view_menu.addAction(dock.toggleViewAction())
        self.sweep_menu = menu.addMenu("&Sweep")
        self.sweep_menu.addAction(w.sweep.start_action)
        self.sweep_menu.addAction(w.sweep.abort_action)
        self.help_menu = menu.addMenu("&Help")
        logs = QAction("Open &log folder", w)
        logs.triggered.connect(
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(log_dir()))))
        self.help_menu.addAction(shortcuts_action(w))
        self.help_menu.addAction(logs)
        about = QAction("&About", w)
        about.triggered.connect(w.show_about)
        self.help_menu.addAction(about)

        self.toolbar = QToolBar("Main", w)
        self.toolbar.setObjectName("toolbar_main")
        self.toolbar.setMovable(False)
        for action in (self.connect_action, self.disconnect_action, self.retry_action,
                       self.big_action, rec.record_action):
            self.toolbar.addAction(action)
        w.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.toolbar)

    def _image_action(self, text: str, plot: pg.PlotWidget, name: str,
                      notes: Callable[[], ImageNotes]) -> QAction:
        """Return an action that saves plot as PNG or SVG with its notes drawn in."""
        action = QAction(text, self._window)

        w = self._window

        def export() -> None:
            try:
                path = export_plot_dialog(plot, w, directory=w.settings.export_dir or "",
                                          name=name, notes=notes())
            except (OSError, ValueError) as exc:
                w.show_message("Export failed", str(exc))
                return
            if path is not None:
                w.settings.export_dir = str(path.parent)
                w.save_settings()
                w.statusBar().showMessage(f"Saved {path}", 5000)

        action.triggered.connect(export)
        return action

    def _chart_notes(self) -> ImageNotes:
        w = self._window
        channels = w.chart.channels
        return chart_notes(
            serial=w.serial(), module=w.live_history.module, channels=channels,
            colours={c: w.theme.channel_colour(c).name() for c in channels},
            wavelengths_nm=w.hub.wavelengths, unit=w.hub.unit,
            window_s=w.chart.window_s, end_wall=w.chart_frozen_wall or time.time(),
            relative=tuple(w.hub.model.references), names={c: w.hub.title(c) for c in channels},
            derived=[(derived_legend(d), w.chart.colour(d.name).name())
                     for d in w.live_history.derived])

    def _trace_notes(self) -> ImageNotes:
        plot = self._window.trace_view.plot
        shown = [(trace, plot.colour(key).name()) for key, curve in plot.curves.items()
                 if curve.isVisible() and (trace := plot.trace(key)) is not None]
        return trace_notes(shown)

