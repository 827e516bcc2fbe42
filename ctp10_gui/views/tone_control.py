"""Alignment by ear: the focused channel's power sets the tone's pitch; silence when not live.

The GUI thread only calls ToneSynth.set_target; the sound device's thread renders. Pitch
follows each batch (every ≤ 20 ms); a stale value or a link that is not live fades the tone
to silence at once (no "lost" cue: silence is never mistaken for a power level).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSlider,
    QToolButton,
    QWidget,
)

from ctp10_gui.audio.tone import AutoSpan, PitchMap, ToneSynth, parse_span
from ctp10_gui.hardware.power import ChannelStatus
from ctp10_gui.models.connection import LinkState, LinkStatus
from ctp10_gui.models.samples import SnapshotBatch
from ctp10_gui.views.readouts import ReadoutHub

_LIVE = {LinkState.LIVE, LinkState.BUSY}
STALE_CHECK_MS = 50  # a stale value silences the tone within this, plus the stale rule
VOLUME_STEP = 0.1


class AudioOutput(Protocol):
    """What the tone needs of a sound output (ProcessOutput, ToneOutput, NullOutput)."""

    @property
    def unavailable(self) -> str:
        """Return why there is no sound ("" while there is or may yet be)."""
        ...

    @property
    def underruns(self) -> int:
        """Return the blocks the device ran dry for."""
        ...

    def start(self) -> bool:
        """Start playing; False (and unavailable set) when there is no sound."""
        ...

    def stop(self) -> None:
        """Stop playing."""
        ...


class ToneControl(QObject):
    """Tone on/off, volume and mute as window actions; pitch from one channel's power."""

    message = Signal(str)  # a sentence for the status bar (why there is no sound)
    changed = Signal()  # on/off, volume or mute changed: the settings follow

    def __init__(self, hub: ReadoutHub, synth: ToneSynth, output: AudioOutput, *,
                 volume: float = 0.5, span_dbm: tuple[float, float] | None = None,
                 clock: Callable[[], float] | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.hub = hub
        self.synth = synth
        self.output = output
        self.clock = clock or hub.clock
        self.volume = min(max(volume, 0.0), 1.0)
        self.fixed_span = span_dbm
        self.auto_span = AutoSpan()
        self.channel: int | None = None
        self.muted = False
        self.live = False
        self.unavailable = ""
        self.toggle_action = QAction("Alignment &tone", self)
        self.toggle_action.setCheckable(True)
        self.toggle_action.setShortcut(QKeySequence("Ctrl+T"))
        self.toggle_action.setToolTip("A tone whose pitch follows the focused channel's power "
                                      "(Ctrl+T); silent when the value is not live")
        self.toggle_action.toggled.connect(self._toggled)
        self.mute_action = QAction("&Mute tone", self)
        self.mute_action.setCheckable(True)
        self.mute_action.setShortcut(QKeySequence("Ctrl+Shift+M"))
        self.mute_action.toggled.connect(self._muted)
        self.louder_action = QAction("Tone &louder", self)
        self.louder_action.setShortcut(QKeySequence("Ctrl+Up"))
        self.louder_action.triggered.connect(lambda: self.set_volume(self.volume + VOLUME_STEP))
        self.softer_action = QAction("Tone &softer", self)
        self.softer_action.setShortcut(QKeySequence("Ctrl+Down"))
        self.softer_action.triggered.connect(lambda: self.set_volume(self.volume - VOLUME_STEP))
        self._stale_timer = QTimer(self)
        self._stale_timer.setInterval(STALE_CHECK_MS)
        self._stale_timer.timeout.connect(self._check_stale)

    def actions(self) -> list[QAction]:
        """Return the tone's actions (for a menu and the window's shortcuts)."""
        return [self.toggle_action, self.mute_action, self.louder_action, self.softer_action]

    @property
    def on(self) -> bool:
        """Return True while the tone is switched on (it may still be silent)."""
        return self.toggle_action.isChecked()

    # ---- inputs -------------------------------------------------------------------------
    def set_channel(self, channel: int | None) -> None:
        """Follow channel (None: nothing, silence); the auto span starts afresh."""
        if channel != self.channel:
            self.channel = channel
            self.auto_span.reset()
            self._silence()

    def set_volume(self, volume: float) -> None:
        """Play at volume 0–1 (clamped)."""
        self.volume = round(min(max(volume, 0.0), 1.0), 3)
        self.changed.emit()

    def set_span(self, span_dbm: tuple[float, float] | None) -> None:
        """Map this power span (dBm) onto the pitch span; None: fit the span to the values."""
        self.fixed_span = span_dbm
        self.auto_span.reset()

    def apply(self, batch: SnapshotBatch) -> None:
        """Set the pitch from the newest value of the channel in batch (GUI thread)."""
        if not self.on or self.channel is None or self.channel not in batch.channels:
            return
        j = batch.channels.index(self.channel)
        ok = batch.status[:, j] == ChannelStatus.OK
        if not ok.any():
            self._silence()  # under or over range, or an error: no level to play
            return
        value = float(batch.values_dbm[np.flatnonzero(ok)[-1], j])
        self.auto_span.add(value)
        if not self.live or self.muted:
            return
        span = self.fixed_span or self.auto_span.span()
        if span is None or not math.isfinite(value):
            return
        self.synth.set_target(PitchMap(*span).frequency_hz(value), self.volume)

    def set_link_status(self, status: LinkStatus) -> None:
        """Silence as soon as the link is not live."""
        self.live = status.state in _LIVE and not status.warning
        if not self.live:
            self._silence()

    # ---- internals ----------------------------------------------------------------------
    def _toggled(self, on: bool) -> None:
        if on:
            if not self.output.start():
                self._no_sound()
                return
            self.unavailable = ""
            self.live = self.hub.state in _LIVE and not self.hub.other_instrument
            self._stale_timer.start()
        else:
            self._silence()
            self._stale_timer.stop()
            self.output.stop()
        self.changed.emit()

    def _muted(self, muted: bool) -> None:
        self.muted = muted
        if muted:
            self._silence()
        self.changed.emit()

    def _no_sound(self) -> None:
        """Say why there is no sound and switch the tone off."""
        self.unavailable = self.output.unavailable
        self.message.emit(self.unavailable)
        self.toggle_action.setChecked(False)

    def _check_stale(self) -> None:
        if self.output.unavailable:
            # An output that starts in the background (the tone's process) found no sound.
            self._no_sound()
            return
        if self.channel is None or self.channel not in self.hub.model.channels:
            self._silence()
            return
        age = self.hub.model.reading(self.channel).age_s(self.clock())
        if age is None or age > self.hub.stale_s:
            self._silence()

    def _silence(self) -> None:
        self.synth.set_target(None, 0.0)


class ToneBar(QWidget):
    """The tone's controls for the focus bar: on/off, volume, mute and why there is no sound."""

    def __init__(self, tone: ToneControl, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tone = tone
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.toggle = QCheckBox("Tone", self)
        self.toggle.setToolTip(tone.toggle_action.toolTip())
        self.toggle.toggled.connect(tone.toggle_action.setChecked)
        row.addWidget(self.toggle)
        self.volume = QSlider(Qt.Orientation.Horizontal, self)
        self.volume.setRange(0, 100)
        self.volume.setFixedWidth(70)
        self.volume.setToolTip("Tone volume (Ctrl+Up / Ctrl+Down)")
        self.volume.setAccessibleName("Tone volume")
        self.volume.valueChanged.connect(lambda v: tone.set_volume(v / 100))
        row.addWidget(self.volume)
        self.mute = QToolButton(self)
        self.mute.setDefaultAction(tone.mute_action)
        row.addWidget(self.mute)
        self.why = QLabel("", self)
        self.why.setProperty("role", "error")
        self.why.setWordWrap(False)
        row.addWidget(self.why)
        tone.changed.connect(self.sync)
        tone.message.connect(self._unavailable)
        self.sync()

    def sync(self) -> None:
        """Show the tone's state."""
        self.toggle.blockSignals(True)
        self.toggle.setChecked(self.tone.on)
        self.toggle.blockSignals(False)
        self.volume.blockSignals(True)
        self.volume.setValue(round(self.tone.volume * 100))
        self.volume.blockSignals(False)
        if self.tone.on:
            self.why.setText("")

    def _unavailable(self, text: str) -> None:
        self.why.setText("no sound")
        self.why.setToolTip(text)


class ToneSpanEdit(QWidget):
    """The power span the tone's pitch spans: "auto" (fitted to the values seen) or low to high."""

    def __init__(self, tone: ToneControl, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tone = tone
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("tone span", self))
        self.edit = QLineEdit(self)
        self.edit.setFixedWidth(80)
        self.edit.setAccessibleName("Tone span")
        self.edit.setToolTip("dBm mapped onto 200–2000 Hz: 'auto' fits the values seen, "
                             "or e.g. '-20 to -3'")
        span = tone.fixed_span
        self.edit.setText("auto" if span is None else f"{span[0]:g} to {span[1]:g}")
        self.edit.editingFinished.connect(self.apply)
        row.addWidget(self.edit)

    def apply(self) -> None:
        """Use the typed span, or say in the status bar why it is not one."""
        try:
            span = parse_span(self.edit.text())
        except ValueError as exc:
            self.tone.message.emit(f"{exc}.")
            return
        if span != self.tone.fixed_span:
            self.tone.set_span(span)
            self.tone.changed.emit()
