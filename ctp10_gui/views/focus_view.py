"""Alignment mode: one or two focused channels fill the Live tab, readable from across the lab.

Each focused channel shows its value huge, Δ-to-peak as a large signed number with a needle
whose span adapts (±0.1 … ±10 dB), a sparkline of the last 20 s, the time since the peak and
a settled light; the other channels stay visible in a small row. Every text is a FitLabel, so
nothing is ever clipped whatever the window size.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from ctp10_gui.hardware.power import ChannelStatus
from ctp10_gui.models.alignment import (
    DEFAULT_SETTLE_THRESHOLD_DB,
    DEFAULT_SETTLE_WINDOW_S,
    DeltaSpan,
    SettledDetector,
)
from ctp10_gui.models.channel_names import channel_key, key_channel
from ctp10_gui.models.decimation import decimate_minmax
from ctp10_gui.models.derived_readings import DerivedReadings, level_db
from ctp10_gui.models.live_history import LiveHistory
from ctp10_gui.models.readout import format_db, format_power
from ctp10_gui.models.samples import SnapshotBatch
from ctp10_gui.views.derived_view import derived_style, format_derived
from ctp10_gui.views.fit_label import FitLabel
from ctp10_gui.views.focus_widgets import DeltaNeedle, Sparkline
from ctp10_gui.views.readouts import ReadoutHub
from ctp10_gui.views.theme import Theme, repolish

SPARK_S = 20.0  # s of history in the sparkline: one stage move and its settling
NONE = "—"
_SHOWS_DELTA = {"live", "range"}  # a stale or missing value has no honest Δ


def format_since(seconds: float | None) -> str:
    """Return how long ago the peak was (s ≥ 0): "just now", "12 s ago", "3 min ago"."""
    if seconds is None or not math.isfinite(seconds):
        return ""
    if seconds < 1.0:
        return "just now"
    if seconds < 120:
        return f"{int(seconds)} s ago"
    if seconds < 7200:
        return f"{int(seconds // 60)} min ago"
    return f"{int(seconds // 3600)} h ago"


@dataclass(frozen=True)
class TileTexts:
    """What one focus tile shows at one instant."""

    name: str
    value: str
    style: str  # "live", "stale", "none", "range", "error"
    state: str  # age or link state, "" when live
    delta: str
    delta_db: float | None
    peak: str  # "peak −2.70 dBm · 12 s ago"
    settled: str
    settled_on: bool


class FocusTile(QFrame):
    """One focused channel: name, value, Δ with needle, sparkline, peak age, settled light."""

    def __init__(self, key: str, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.setProperty("readout", True)
        self.span = DeltaSpan()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 8, 14, 8)
        layout.setSpacing(4)
        head = QHBoxLayout()
        self.name_label = FitLabel(self, max_px=40, bold=True)
        self.state_label = FitLabel(self, max_px=40, bold=True,
                                    align=Qt.AlignmentFlag.AlignRight)
        self.state_label.setProperty("role", "age")
        head.addWidget(self.name_label, 3)
        head.addWidget(self.state_label, 2)
        layout.addLayout(head, 7)
        self.value_label = FitLabel(self, bold=True, mono=True,
                                    align=Qt.AlignmentFlag.AlignHCenter)
        self.value_label.setProperty("reading", "none")
        layout.addWidget(self.value_label, 30)
        delta_row = QHBoxLayout()
        self.delta_label = FitLabel(self, max_px=160, bold=True, mono=True,
                                    align=Qt.AlignmentFlag.AlignRight)
        self.delta_label.setToolTip("Δ to peak: the value minus its peak (the highest 50 ms "
                                    "average since the last reset), dB")
        self.needle = DeltaNeedle(self)
        delta_row.addWidget(self.delta_label, 5)
        delta_row.addWidget(self.needle, 6)
        layout.addLayout(delta_row, 18)
        self.sparkline = Sparkline(self)
        self.sparkline.window_s = SPARK_S
        layout.addWidget(self.sparkline, 18)
        # The settled light and the peak get a row each: side by side, both would shrink to
        # a size nobody reads from the bench.
        self.settled_label = FitLabel(self, max_px=48, bold=True)
        self.settled_label.setToolTip("Settled: the spread over the settling window is below "
                                      "the threshold (set in the bar above)")
        layout.addWidget(self.settled_label, 9)
        self.peak_label = FitLabel(self, max_px=32)
        self.peak_label.setProperty("role", "detail")
        layout.addWidget(self.peak_label, 6)
        self.apply_theme(theme)

    def labels(self) -> list[FitLabel]:
        """Return every text of the tile (the label-fit tests walk them)."""
        return [self.name_label, self.state_label, self.value_label, self.delta_label,
                self.peak_label, self.settled_label]

    def apply_theme(self, theme: Theme) -> None:
        """Colour the name, needle and sparkline like the channel's chart curve."""
        channel = key_channel(self.key)
        colour = theme.channel_colour(channel) if channel is not None else QColor(theme.foreground)
        self.name_label.setStyleSheet(f"color: {colour.name()};")
        self.setStyleSheet("QFrame[readout=\"true\"] "
                           f"{{ border-left: 10px solid {colour.name()}; }}")
        self.needle.set_colours(QColor(theme.foreground), QColor(theme.dim))
        self.sparkline.set_colours(colour, QColor(theme.dim))

    def show_texts(self, t: TileTexts, now: float) -> None:
        """Draw t; the needle span follows |Δ| at monotonic now (s)."""
        self.name_label.show_text(t.name)
        self.state_label.show_text(t.state)
        self.value_label.show_text(t.value)
        if self.value_label.property("reading") != t.style:
            self.value_label.setProperty("reading", t.style)
            repolish(self.value_label)
        self.delta_label.show_text(t.delta)
        self.needle.set_delta(t.delta_db, self.span.update(t.delta_db, now))
        self.peak_label.show_text(t.peak)
        self.settled_label.show_text(t.settled)
        role = "ok" if t.settled_on else "hint"
        if self.settled_label.property("role") != role:
            self.settled_label.setProperty("role", role)
            repolish(self.settled_label)
        self.setAccessibleName(f"{t.name}: {t.value} {t.state} {t.delta} {t.settled}")


class FocusPanel(QWidget):
    """The Live tab in alignment mode: channel pickers, focused tiles, the others small."""

    focus_changed = Signal(list)  # list[str]: the focused channel keys
    settle_changed = Signal(float, float)  # window s, threshold dB

    def __init__(self, hub: ReadoutHub, history: LiveHistory, theme: Theme, *,
                 names: Callable[[str], str] = lambda key: key,
                 focus: list[str] | None = None,
                 settle_window_s: float = DEFAULT_SETTLE_WINDOW_S,
                 settle_threshold_db: float = DEFAULT_SETTLE_THRESHOLD_DB,
                 derived: DerivedReadings | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hub = hub
        self.derived = derived or DerivedReadings()
        self.history = history
        self.theme = theme
        self.names = names
        self._settle = (settle_window_s, settle_threshold_db)
        self.detectors: dict[str, SettledDetector] = {}
        self.tiles: dict[str, FocusTile] = {}
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.bar = QHBoxLayout()
        self.pickers = (QComboBox(self), QComboBox(self))
        for i, box in enumerate(self.pickers):
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(8)
            box.setToolTip("The channel to align on" if i == 0 else
                           "A second channel to watch beside it (— for none)")
            box.setAccessibleName(f"Focused channel {i + 1}")
            self.bar.addWidget(QLabel("Focus" if i == 0 else "and", self))
            self.bar.addWidget(box)
            box.activated.connect(self._picked)
        self.bar.addSpacing(16)
        # Two rows: one would set the Live tab's minimum width beyond a 1024 px screen.
        self.options_row = QHBoxLayout()
        self.options_row.addWidget(QLabel("Settled in", self))
        self.settle_window = QDoubleSpinBox(self)
        self.settle_window.setRange(0.1, 600.0)
        self.settle_window.setDecimals(1)
        self.settle_window.setSuffix(" s")
        self.settle_window.setValue(settle_window_s)
        self.settle_threshold = QDoubleSpinBox(self)
        self.settle_threshold.setRange(0.001, 10.0)
        self.settle_threshold.setDecimals(3)
        self.settle_threshold.setSingleStep(0.005)
        self.settle_threshold.setSuffix(" dB")
        self.settle_threshold.setValue(settle_threshold_db)
        self.settle_window.setFixedWidth(80)
        self.settle_threshold.setFixedWidth(95)
        for spin in (self.settle_window, self.settle_threshold):
            spin.setToolTip("The settled light is on when the spread over this window is "
                            "below this threshold")
            spin.editingFinished.connect(self._settle_edited)
        self.options_row.addWidget(self.settle_window)
        self.options_row.addWidget(QLabel("within", self))
        self.options_row.addWidget(self.settle_threshold)
        self.options_row.addStretch(1)
        outer.addLayout(self.bar)
        outer.addLayout(self.options_row)
        self._tiles_row = QHBoxLayout()
        self._tiles_row.setSpacing(10)
        outer.addLayout(self._tiles_row, 1)
        self.others_row = QHBoxLayout()
        self.others_row.setSpacing(32)  # two channels' texts must not read as one
        self.others: dict[str, FitLabel] = {}
        outer.addLayout(self.others_row)
        self.others_height = 40
        self.focus: list[str] = []
        self._fill_pickers()
        self.set_focus(focus or [])  # none: the first channel
        hub.changed.connect(self._hub_changed)
        # 10 Hz like the cards: faster than the eye follows digits.
        self._timer = QTimer(self)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()

    # ---- inputs -------------------------------------------------------------------------
    def keys(self) -> list[str]:
        """Return the keys of every channel that can be focused, in display order."""
        return [channel_key(c) for c in self.hub.model.channels] + self.derived.names()

    def set_focus(self, keys: list[str]) -> None:
        """Focus these 1–2 channel keys (unknown ones are dropped; none: the first channel)."""
        known = self.keys()
        chosen = list(dict.fromkeys(k for k in keys if k in known))[:2]
        if not chosen and known:
            chosen = known[:1]
        if chosen == self.focus:
            return
        self.focus = chosen
        self._rebuild_tiles()
        self._sync_pickers()
        self.focus_changed.emit(list(chosen))

    def apply(self, batch: SnapshotBatch) -> None:
        """Feed the settled detectors of the focused channels from a batch."""
        if len(batch) == 0:
            return
        for key, detector in self.detectors.items():
            ch = key_channel(key)
            if key in self.derived.names():
                # Computed from this batch already (the derived readings are fed first).
                t, y = self.derived.history(key)
                new = t >= batch.t_mono[0]
                level = level_db(self.derived.reading(key).channel.kind, y[new])
                detector.add(t[new], level, np.isfinite(level))
                continue
            if ch is None or ch not in batch.channels:
                continue
            j = batch.channels.index(ch)
            detector.add(batch.t_mono, batch.values_dbm[:, j],
                         batch.status[:, j] == ChannelStatus.OK)

    def set_settling(self, window_s: float, threshold_db: float) -> None:
        """Settled when the spread over window_s (s) is below threshold_db (dB)."""
        self._settle = (window_s, threshold_db)
        self.settle_window.setValue(window_s)
        self.settle_threshold.setValue(threshold_db)
        self.detectors = {k: SettledDetector(window_s, threshold_db) for k in self.focus}

    def apply_theme(self, theme: Theme) -> None:
        """Restyle the tiles."""
        self.theme = theme
        for tile in self.tiles.values():
            tile.apply_theme(theme)

    # ---- drawing ------------------------------------------------------------------------
    def texts(self, key: str) -> TileTexts:
        """Return what the tile of key shows now."""
        ch = key_channel(key)
        name = self.names(key)
        if key in self.derived.names():
            return self._derived_texts(key)
        if ch is None or ch not in self.hub.model.channels:
            return TileTexts(name, "— —", "none", "not measured", "", None, "", "", False)
        p = self.hub.presentation(ch)
        r = self.hub.model.reading(ch)
        now = self.hub.clock()
        delta_db = r.delta_to_peak_db() if p.style in _SHOWS_DELTA else None
        delta = f"Δ {format_db(delta_db)}" if delta_db is not None else f"Δ {NONE}"
        peak = ""
        if math.isfinite(r.peak_dbm):
            since = None if r.peak_t_mono is None else now - r.peak_t_mono
            peak = f"peak {format_power(r.peak_dbm, self.hub.unit, ChannelStatus.OK)}"
            if since is not None:
                peak += f" · {format_since(since)}"
        detector = self.detectors.get(key)
        settled_on = False
        if p.style not in _SHOWS_DELTA or detector is None:
            settled = "○ not live"
        else:
            s = detector.state(now)
            settled_on = s.settled
            if s.settled:
                settled = f"● settled at {format_power(s.level_dbm, self.hub.unit, 0)}"
            elif math.isfinite(s.spread_db):
                settled = f"○ moving {s.spread_db:.3f} dB"
            else:
                settled = "○ settling…"
        state = p.age if p.style != "live" else ""
        return TileTexts(name, p.value, p.style, state, delta, delta_db, peak, settled,
                         settled_on)

    def refresh(self) -> None:
        """Redraw tiles, sparklines and the others row (skipped while hidden)."""
        if not self.isVisible():
            return
        now = self.hub.clock()
        for key, tile in self.tiles.items():
            tile.show_texts(self.texts(key), now)
            self._draw_sparkline(key, tile, now)
        for key, label in self.others.items():
            ch = key_channel(key)
            if key in self.derived.names():
                value = format_derived(self.derived.reading(key))
            else:
                value = self.hub.presentation(ch).value if ch is not None else "— —"
            label.show_text(f"{self.names(key)}  {value}")

    def labels(self) -> list[FitLabel]:
        """Return every fitted text of the panel (the label-fit tests walk them)."""
        out = [label for tile in self.tiles.values() for label in tile.labels()]
        return out + list(self.others.values())

    # ---- internals ----------------------------------------------------------------------
    def _draw_sparkline(self, key: str, tile: FocusTile, now: float) -> None:
        ch = key_channel(key)
        history = self.history
        if key in self.derived.names():
            t, y = self.derived.history(key)
            i0 = int(np.searchsorted(t, now - SPARK_S))
            tile.sparkline.set_data(t[i0:], level_db(self.derived.reading(key).channel.kind,
                                                     y[i0:]), now)
            return
        if ch is None or ch not in history.channels or len(history) == 0:
            tile.sparkline.set_data(np.empty(0), np.empty(0), now)
            return
        t_all, y_all, _status = history.ring.view()
        i0 = int(np.searchsorted(t_all, now - SPARK_S))
        t, y = t_all[i0:], y_all[i0:, history.channels.index(ch)]
        columns = max(tile.sparkline.width() // 3, 1)  # ≤ 3 points a column: ~1 per pixel
        if len(t) > 3 * columns:
            t, y = decimate_minmax(t, y, now - SPARK_S, now, columns)
        tile.sparkline.set_data(np.asarray(t), np.asarray(y, dtype=np.float64), now)

    def _fill_pickers(self) -> None:
        keys = self.keys()
        for i, box in enumerate(self.pickers):
            box.blockSignals(True)
            box.clear()
            if i == 1:
                box.addItem(NONE, "")
            for key in keys:
                box.addItem(self.names(key), key)
            box.blockSignals(False)
        self._sync_pickers()

    def _sync_pickers(self) -> None:
        for i, box in enumerate(self.pickers):
            want = self.focus[i] if i < len(self.focus) else ""
            index = box.findData(want)
            if index >= 0 and index != box.currentIndex():
                box.setCurrentIndex(index)

    def _picked(self) -> None:
        keys = [str(box.currentData()) for box in self.pickers if box.currentData()]
        self.set_focus(keys)

    def _settle_edited(self) -> None:
        window, threshold = self.settle_window.value(), self.settle_threshold.value()
        if (window, threshold) != self._settle:
            self.set_settling(window, threshold)
            self.settle_changed.emit(window, threshold)

    def _derived_texts(self, key: str) -> TileTexts:
        r = self.derived.reading(key)
        style, age = derived_style(r, self.hub)
        now = self.hub.clock()
        delta_db = r.delta_to_peak_db() if style in _SHOWS_DELTA else None
        delta = f"Δ {format_db(delta_db)}" if delta_db is not None else f"Δ {NONE}"
        peak = ""
        if math.isfinite(r.peak_db):
            unit = "dBm" if r.channel.kind.unit == "mW" else "dB"
            peak = f"peak {r.peak_db:.2f} {unit} · {format_since(now - r.peak_t)}".replace(
                "-", "−")
        detector = self.detectors.get(key)
        settled, settled_on = "○ not live", False
        if style in _SHOWS_DELTA and detector is not None:
            s = detector.state(now)
            settled_on = s.settled
            settled = ("● settled" if s.settled else
                       f"○ moving {s.spread_db:.3f} dB" if math.isfinite(s.spread_db) else
                       "○ settling…")
        return TileTexts(f"{key} = {r.channel.expression}", format_derived(r), style, age,
                         delta, delta_db, peak, settled, settled_on)

    def sync_channels(self) -> None:
        """Follow a change of the measured or derived channel set."""
        self._hub_changed()

    def _hub_changed(self) -> None:
        keys = self.keys()
        if [self.pickers[0].itemData(i) for i in range(self.pickers[0].count())] != keys:
            self._fill_pickers()
            kept = [k for k in self.focus if k in keys]
            self.focus = []  # rebuild even when the same keys stay focused
            self.set_focus(kept)
        self.refresh()

    def rename(self) -> None:
        """Take the channel names again (after the user renamed one)."""
        self._fill_pickers()
        self.refresh()

    def _rebuild_tiles(self) -> None:
        for tile in self.tiles.values():
            self._tiles_row.removeWidget(tile)
            tile.deleteLater()
        self.tiles = {}
        window, threshold = self._settle
        self.detectors = {k: self.detectors.get(k) or SettledDetector(window, threshold)
                          for k in self.focus}
        for key in self.focus:
            tile = FocusTile(key, self.theme, self)
            self.tiles[key] = tile
            self._tiles_row.addWidget(tile, 1)
        for label in self.others.values():
            self.others_row.removeWidget(label)
            label.deleteLater()
        self.others = {}
        for key in self.keys():
            if key in self.focus:
                continue
            label = FitLabel(self, max_px=28, bold=True, mono=True)
            label.setMinimumHeight(self.others_height)
            label.setProperty("role", "detail")
            self.others[key] = label
            self.others_row.addWidget(label, 1)
        self.refresh()
