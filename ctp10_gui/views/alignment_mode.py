"""Alignment mode: the Live tab switches (F9) between cards + chart and the focus view; the tone.

Composes the focus view and the tone around the window's link, readout hub and live history,
and keeps their settings. The main window only places `stack` as its Live tab and adds the
actions to its menus.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDoubleSpinBox, QLabel, QStackedWidget, QWidget

from ctp10_gui.audio.process_output import ProcessOutput
from ctp10_gui.audio.tone import ToneSynth
from ctp10_gui.link.port import LinkPort
from ctp10_gui.models.channel_names import key_channel
from ctp10_gui.models.derived_readings import DerivedReadings
from ctp10_gui.models.live_history import LiveHistory
from ctp10_gui.models.settings import AppSettings
from ctp10_gui.views.focus_view import FocusPanel
from ctp10_gui.views.readouts import ReadoutHub
from ctp10_gui.views.theme import Theme
from ctp10_gui.views.tone_control import AudioOutput, ToneBar, ToneControl, ToneSpanEdit


class AlignmentMode(QObject):
    """The focus view, its F9 toggle and the alignment tone, wired to the link."""

    def __init__(self, controller: LinkPort, hub: ReadoutHub, history: LiveHistory,
                 theme: Theme, settings: AppSettings, normal: QWidget, *,
                 names: Callable[[str], str] = lambda key: key,
                 derived: DerivedReadings | None = None,
                 output: Callable[[ToneSynth], AudioOutput] = ProcessOutput,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.focus = FocusPanel(hub, history, theme, names=names,
                                focus=list(settings.focus_channels),
                                settle_window_s=settings.settle_window_s,
                                settle_threshold_db=settings.settle_threshold_db,
                                derived=derived)
        self.synth = ToneSynth()
        span = settings.tone_span_dbm
        self.tone = ToneControl(hub, self.synth, output(self.synth), volume=settings.tone_volume,
                                span_dbm=(span[0], span[1]) if len(span) == 2 else None,
                                parent=self)
        self.tone_bar = ToneBar(self.tone, self.focus)
        self.focus.bar.addWidget(self.tone_bar)
        self.focus.bar.addStretch(1)
        self.derived = derived
        self.hub = hub
        self.peak_average = QDoubleSpinBox(self.focus)
        self.peak_average.setRange(0.0, 10_000.0)
        self.peak_average.setDecimals(0)
        self.peak_average.setSuffix(" ms")
        self.peak_average.setFixedWidth(85)
        self.peak_average.setValue(round(settings.peak_average_s * 1000))
        self.peak_average.setToolTip("Peaks (and Δ to peak) are those of a moving power average "
                                     "this long, so a noise spike cannot raise them; 0: every "
                                     "sample. Changing it restarts the peaks.")
        self.peak_average.editingFinished.connect(self._peak_average_edited)
        # Short labels: each row must fit a 1024 px window with the acquisition dock open.
        self.focus.options_row.insertWidget(self.focus.options_row.count() - 1,
                                            QLabel("peak avg", self.focus))
        self.focus.options_row.insertWidget(self.focus.options_row.count() - 1,
                                            self.peak_average)
        self.span_edit = ToneSpanEdit(self.tone, self.focus)
        self.focus.options_row.insertWidget(self.focus.options_row.count() - 1, self.span_edit)
        self.stack = QStackedWidget()
        self.stack.addWidget(normal)
        self.stack.addWidget(self.focus)
        self.action = QAction("&Alignment mode", self)
        self.action.setCheckable(True)
        self.action.setShortcut(QKeySequence("F9"))
        self.action.setToolTip("The focused channels fill the Live tab, with Δ to peak, "
                               "sparkline and settled light (F9)")
        self.action.toggled.connect(self.set_on)
        self.focus.focus_changed.connect(self._focus_changed)
        self._focus_changed(self.focus.focus)
        controller.batch_received.connect(self.focus.apply)
        controller.batch_received.connect(self.tone.apply)
        controller.state_changed.connect(self.tone.set_link_status)
        self.tone.set_link_status(controller.status)
        self.action.setChecked(settings.focus_mode)
        if settings.tone_on:
            self.tone.toggle_action.setChecked(True)

    def actions(self) -> list[QAction]:
        """Return the mode's and the tone's actions, for the View menu and the shortcuts."""
        return [self.action, *self.tone.actions()]

    def set_on(self, on: bool) -> None:
        """Show the focus view (True) or the cards and chart (False) in the Live tab."""
        self.stack.setCurrentIndex(1 if on else 0)
        if self.action.isChecked() != on:
            self.action.setChecked(on)
        if on:
            self.focus.refresh()

    def apply_theme(self, theme: Theme) -> None:
        """Restyle the focus view."""
        self.focus.apply_theme(theme)

    def collect(self, s: AppSettings) -> None:
        """Copy the mode's state into the settings s."""
        s.focus_mode = self.action.isChecked()
        s.focus_channels = list(self.focus.focus) or s.focus_channels
        s.settle_window_s, s.settle_threshold_db = (self.focus.settle_window.value(),
                                                    self.focus.settle_threshold.value())
        s.tone_on = self.tone.on
        s.tone_volume = self.tone.volume
        s.peak_average_s = self.hub.model.peak_average_s
        span = self.tone.fixed_span
        s.tone_span_dbm = [] if span is None else [span[0], span[1]]

    def shutdown(self) -> None:
        """Stop the sound output."""
        self.tone.toggle_action.setChecked(False)
        self.tone.output.stop()

    def _peak_average_edited(self) -> None:
        seconds = self.peak_average.value() / 1000.0
        if seconds != self.hub.model.peak_average_s:
            self.hub.model.set_peak_average(seconds)
            if self.derived is not None:
                self.derived.set_peak_average(seconds)
            self.hub.changed.emit()

    def _focus_changed(self, keys: list[str]) -> None:
        self.tone.set_channel(key_channel(keys[0]) if keys else None)
