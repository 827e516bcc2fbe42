"""Big per-channel readouts: value, peak hold, Δ to peak, stale age, relative dB.

A value that is not live is never drawn as if it were: it is greyed and labelled with its age
when stale, replaced by "— —" when there is no link, and marked when the channel fails.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QFont, QKeySequence, QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ctp10_gui.hardware.power import ChannelStatus, PowerUnitText
from ctp10_gui.models.channel_names import ChannelNames, channel_key, check_name
from ctp10_gui.models.connection import LinkState, LinkStatus, stale_after_s
from ctp10_gui.models.readout import (
    NO_DATA,
    ChannelReading,
    ReadoutModel,
    format_age,
    format_db,
    format_power,
    reference_key,
)
from ctp10_gui.models.samples import SnapshotBatch
from ctp10_gui.views.theme import Theme, repolish

log = logging.getLogger(__name__)

_NO_LINK = {
    LinkState.DISCONNECTED: "disconnected",
    LinkState.CONNECTING: "connecting…",
    LinkState.OFFLINE: "offline",
}
_FRESH_STATES = {LinkState.LIVE, LinkState.BUSY}
MIN_CARD_WIDTH = 280  # px: two buttons and "peak −12.34 dBm at 12:34:56"
VALUE_FAMILIES = ["DejaVu Sans Mono", "Consolas", "Menlo", "Liberation Mono", "monospace"]
FOOT_ROW_PX = 30  # px: the usual height of the buttons row
MIN_VALUE_PX = 22  # px: below this the detail rows are dropped to give the value room
_CARD_MARGINS_PX = 12 + 4 + 3 * 2  # margins, the 2 px frame, spacing between four rows
_LINE = 1.3  # line height / pixel size of the text rows
_VALUE_LINE = 1.2  # the value label's height / its pixel size (digits, no descenders)
MIN_FIT_PX = 9  # px: a fitted detail text never gets smaller than this


@dataclass(frozen=True)
class CardFonts:
    """Pixel sizes of a readout card's texts and which rows fit (px)."""

    value_px: int
    head_px: int
    detail_px: int
    small_px: int
    detail: bool
    foot: bool


def card_fonts(width: int, height: int, foot_px: int = FOOT_ROW_PX) -> CardFonts:
    """Return the largest value font for a width × height px card, rows dropped when tight."""
    # 12 monospace characters ("< −80.00 dBm") must fit the width; a digit is ~0.62 em wide.
    by_width = (width - 28) / (12 * 0.62)
    for detail, foot in ((True, True), (False, True), (False, False)):
        v = (height - _CARD_MARGINS_PX - foot_px) / 2.2  # first guess, refined once below
        head = min(max(13.0, 0.38 * v), 48.0)
        det = min(max(13.0, 0.34 * v), 44.0)
        rest = height - _CARD_MARGINS_PX - _LINE * head
        rest -= (_LINE * det if detail else 0) + (foot_px if foot else 0)
        value = min(rest / _VALUE_LINE, by_width)
        if value >= MIN_VALUE_PX:
            break
    value = max(12.0, value)
    return CardFonts(int(value), int(head), int(det), int(min(max(12.0, 0.3 * value), 40.0)),
                     detail, foot)


@dataclass(frozen=True)
class Presentation:
    """The texts and style of one readout card at one instant."""

    value: str
    style: str  # "live", "stale", "none", "range", "error": QSS property reading=
    age: str  # "1.8 s old", "disconnected", "" when live
    peak: str
    delta: str
    note: str  # relative-mode reference, or why nothing is shown
    error: bool
    peak_short: str = ""  # the peak without its time, where the whole text does not fit
    peak_tip: str = ""  # what the peak is, with the raw maximum: the tooltip of peak and Δ


def present(
    r: ChannelReading, state: LinkState | None, now: float, unit: PowerUnitText, stale_s: float,
    *, relative: bool, other_instrument: bool = False,
) -> Presentation:
    """Return what a card shows for reading r in link state at monotonic now (s)."""
    peak = peak_short = ""
    if math.isfinite(r.peak_dbm) and r.peak_t_wall is not None:
        when = time.strftime("%H:%M:%S", time.localtime(r.peak_t_wall))
        peak_short = f"peak {format_power(r.peak_dbm, unit, ChannelStatus.OK)}"
        peak = f"{peak_short} at {when}"
    peak_tip = ""
    if math.isfinite(r.raw_max_dbm):
        peak_tip = ("Peak of the moving power average (a noise spike cannot raise it); "
                    f"highest single reading {format_power(r.raw_max_dbm, unit, ChannelStatus.OK)}")
    delta_db = r.delta_to_peak_db()
    delta = f"Δ to peak {format_db(delta_db)}" if delta_db is not None else ""
    age_s = r.age_s(now)
    why: str | None = None
    if other_instrument:
        # The values are the previous instrument's: greyed numbers would still invite trust.
        why = "a different instrument answers"
    elif state in _NO_LINK:
        why = _NO_LINK[state]
    elif state is None or r.status is None:
        why = "no data yet"
    if why is not None:
        note = f"last value {format_age(age_s)}" if age_s is not None else ""
        return Presentation(NO_DATA, "none", why, peak, "", note, False, peak_short, peak_tip)
    fresh = state in _FRESH_STATES and age_s is not None and age_s <= stale_s
    error = r.status == ChannelStatus.ERROR
    ref = r.reference_dbm
    note = ""
    if error:
        value = "⚠ error"
    elif relative and ref is not None and r.status == ChannelStatus.OK:
        value = format_db(r.relative_db())
        note = f"relative to {format_power(ref, unit, ChannelStatus.OK)}"
    else:
        value = format_power(r.value_dbm, unit, r.status)
        if relative and ref is not None:
            note = f"relative to {format_power(ref, unit, ChannelStatus.OK)}"
    if not fresh:
        style = "stale"
        age = format_age(age_s) if age_s is not None else "no good reply yet"
        if state is LinkState.CONNECTED:
            age = f"live off · {age}"
    elif error:
        style, age = "error", ""
    elif r.status in (ChannelStatus.UNDER, ChannelStatus.OVER):
        style, age = "range", ""
    else:
        style, age = "live", ""
    return Presentation(value, style, age, peak, delta if not error else "", note, error,
                        peak_short, peak_tip)


def _power_unit(unit: str) -> PowerUnitText:
    """Return unit as a power unit; ValueError unless it is "dBm" or "mW"."""
    if unit == "dBm":
        return "dBm"
    if unit == "mW":
        return "mW"
    raise ValueError(f"unit must be 'dBm' or 'mW', got {unit!r}")


class ReadoutHub(QObject):
    """Shared readout state: model, unit, link state, references and their persistence."""

    changed = Signal()
    references_changed = Signal(object)  # dict[int, float] dBm by channel
    unit_requested = Signal(str)  # a card asked for "dBm"/"mW"; the controls apply it
    readouts_reset = Signal(str)  # why peaks and values started afresh (another instrument…)
    names_changed = Signal()  # the user renamed a channel

    def __init__(
        self, model: ReadoutModel, references: dict[str, float], *,
        persist: Callable[[], object] = lambda: None, unit: str = "dBm",
        clock: Callable[[], float] = time.monotonic, parent: QObject | None = None,
        names: ChannelNames | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.names = names or ChannelNames({})
        self.clock = clock
        self.unit: PowerUnitText = _power_unit(unit)
        self.state: LinkState | None = None
        self.other_instrument = False  # until the user turns live on for the new instrument
        self.stale_s = stale_after_s(0.05)
        self._stored = references  # AppSettings.references, edited in place
        self._persist = persist
        self.serial: str | None = None
        self.module: int | None = model.module
        self.wavelengths: dict[int, float] = {}
        self._session_only: set[int] = set()  # references set before serial/λ were known
        model.on_reset = self._model_reset

    # ---- inputs ------------------------------------------------------------------------
    def apply(self, batch: SnapshotBatch) -> None:
        """Feed a SnapshotBatch; a new module or channel set reloads the references."""
        if batch.module != self.module or tuple(batch.channels) != self.model.channels:
            if batch.module != self.module:
                self._session_only.clear()
            self.model.set_channels(batch.channels, module=batch.module)
            self.module = batch.module
            self._reload_references()
            self.changed.emit()
        self.model.apply(batch)

    def set_instrument(self, address: str | None, serial: str | None) -> None:
        """Name the address and serial (None: unknown yet) the readings come from."""
        self.model.set_instrument(address, serial)
        if self.model.serial != self.serial:
            self.serial = self.model.serial
            self._reload_references()

    def set_link_status(self, status: LinkStatus) -> None:
        """Follow the link state from the controller's LinkStatus."""
        self.state = status.state
        self.other_instrument = bool(status.warning)
        self.changed.emit()

    def set_stale_after(self, seconds: float) -> None:
        """Grey a value after seconds (s) without a good reply, even before the link says so."""
        self.stale_s = seconds

    def set_unit(self, unit: str) -> None:
        """Show powers in unit ("dBm" or "mW")."""
        if unit not in ("dBm", "mW"):
            raise ValueError(f"unit must be 'dBm' or 'mW', got {unit!r}")
        self.unit = _power_unit(unit)
        self.changed.emit()

    def set_context(self, serial: str | None, module: int | None,
                    wavelengths: Mapping[int, float]) -> None:
        """Set the instrument serial, module and detector wavelengths (nm) the keys depend on."""
        self.serial = serial
        if module is not None and module != self.module:
            self._session_only.clear()
            self.model.set_channels(self.model.channels, module=module)
            self.module = module
        self.wavelengths = dict(wavelengths)
        self._reload_references()

    # ---- actions -----------------------------------------------------------------------
    def reset_peak(self, channel: int | None = None) -> None:
        """Forget the session peak of channel (all channels when None)."""
        self.model.reset_peak(channel)
        self.changed.emit()

    def set_reference(self, channel: int) -> bool:
        """Use channel's current value as its reference and store it; False if no live value."""
        value = self.model.set_reference(channel)
        if value is None:
            return False
        key = self._key(channel)
        if key is None:
            # Stored as soon as the serial and wavelength are read back (set_context).
            log.info("reference of channel %d not stored yet: serial or wavelength unknown",
                     channel)
            self._session_only.add(channel)
        else:
            self._stored[key] = value
            self._persist()
        self._announce()
        return True

    def clear_reference(self, channel: int) -> None:
        """Drop channel's reference, here and in the stored settings."""
        self.model.clear_reference(channel)
        self._session_only.discard(channel)
        key = self._key(channel)
        if key is not None and self._stored.pop(key, None) is not None:
            self._persist()
        self._announce()

    def title(self, channel: int) -> str:
        """Return how channel is named everywhere: "CH3 · input GC"."""
        return self.names.title(channel_key(channel))

    def rename(self, names: Mapping[int, str]) -> None:
        """Name channels (an empty name restores the default); ValueError if one is too long."""
        for name in names.values():
            check_name(name)  # all or none: a refused name leaves every channel as it was
        for channel, name in names.items():
            self.names.rename(channel_key(channel), name)
        self._persist()
        self.names_changed.emit()
        self.changed.emit()

    def presentation(self, channel: int) -> Presentation:
        """Return what channel's card shows now."""
        return present(self.model.reading(channel), self.state, self.clock(), self.unit,
                       self.stale_s, relative=True, other_instrument=self.other_instrument)

    def key(self, channel: int) -> str | None:
        """Return the persistence key of channel's reference, None while serial/λ are unknown."""
        return self._key(channel)

    # ---- internals ---------------------------------------------------------------------
    def _key(self, channel: int) -> str | None:
        wl = self.wavelengths.get(channel)
        if self.serial is None or self.module is None or wl is None or not math.isfinite(wl):
            return None
        return reference_key(self.serial, self.module, channel, wl)

    def _reload_references(self) -> None:
        refs: dict[int, float] = {}
        current = self.model.references
        stored_new = False
        for ch in self.model.channels:
            key = self._key(ch)
            if ch in self._session_only and ch in current:
                refs[ch] = current[ch]
                if key is not None:  # now it can be kept across restarts
                    self._stored[key] = current[ch]
                    self._session_only.discard(ch)
                    stored_new = True
            elif key is not None and key in self._stored:
                refs[ch] = self._stored[key]
        self.model.load_references(refs)
        if stored_new:
            self._persist()
        self._announce()

    def _model_reset(self, why: str) -> None:
        self._session_only.clear()
        self.readouts_reset.emit(why)
        self.changed.emit()

    def _announce(self) -> None:
        self.references_changed.emit(self.model.references)
        self.changed.emit()


class FittingLabel(QLabel):
    """Show a text, or its short form when the whole text does not fit; the whole as tooltip."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = self._short = self._tip = ""

    def set_texts(self, full: str, short: str, tip: str = "") -> None:
        """Show full (or short, if full is wider than the label); tooltip: full, then tip."""
        if (full, short) != (self._full, self._short) or tip != self._tip:
            self._full, self._short, self._tip = full, short, tip
            self.setToolTip(f"{full}\n{tip}" if full and tip else full or tip)
            self._fit()

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Pick the form that fits the new width."""
        super().resizeEvent(event)
        self._fit()

    def changeEvent(self, event: QEvent) -> None:
        """Pick the form that fits again after a font change."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self._fit()

    def _fit(self) -> None:
        # A cut "peak −3.10 dBm at" reads as if a time were missing; drop the time instead.
        width = self.contentsRect().width()
        fits = self.fontMetrics().horizontalAdvance(self._full) <= width
        text = self._full if fits or not self._short else self._short
        if text != self.text():
            self.setText(text)
        advance = self.fontMetrics().horizontalAdvance(text)
        if advance > width > 0:
            # Even the short form is too wide: a smaller font, never a cut text.
            font = QFont(self.font())
            px = self.fontInfo().pixelSize()  # also when the font was given in points
            smaller = max(MIN_FIT_PX, int(px * width / advance))
            if smaller < px:  # each step shrinks: the FontChange it causes ends the refits
                font.setPixelSize(smaller)
                self.setFont(font)


class ChannelCard(QFrame):
    """One channel's big readout with peak, Δ, age and its buttons."""

    def __init__(self, hub: ReadoutHub, channel: int, theme: Theme, *, big: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hub = hub
        self.channel = channel
        self._big = big
        self.setProperty("readout", True)
        # The grid decides the card size and re-flows when it gets tight; a content-driven
        # minimum would instead push the whole window wider than the screen.
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.setSpacing(2)
        head = QHBoxLayout()
        self.name_label = QLabel(hub.title(channel), self)
        head.addWidget(self.name_label)
        self.error_label = QLabel("⚠ ERROR", self)
        self.error_label.setProperty("reading", "error")
        self.error_label.setToolTip("The instrument reports an error for this channel")
        self.error_label.hide()
        head.addWidget(self.error_label)
        head.addStretch(1)
        self.age_label = QLabel("", self)
        self.age_label.setProperty("role", "age")
        head.addWidget(self.age_label)
        layout.addLayout(head)
        self.value_label = QLabel(NO_DATA, self)
        self.value_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.value_label.setProperty("reading", "none")
        # Ignored both ways: the font follows the card size, never the other way round
        # (a font-driven minimum would grow the card, then the font, then the window).
        self.value_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        layout.addWidget(self.value_label, 1)
        self.note_label = QLabel("", self)
        self.note_label.setProperty("role", "detail")
        # Fitted, never clipped: a right-aligned "Δ to peak −0.70 dB" cut on the left read
        # "peak −0.70 dB", a second peak beside the real one.
        self.delta_label = FittingLabel(self)
        self.delta_label.setProperty("role", "detail")
        self.delta_label.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.peak_label = FittingLabel(self)
        self.peak_label.setProperty("role", "detail")
        # Left-aligned: in a narrow card the clock time goes first, never "peak" and the value.
        self.peak_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        for label in (self.peak_label, self.delta_label, self.note_label):
            # Long detail text must not widen the card: it is clipped by the layout instead.
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.detail_row = QWidget(self)
        self.detail_row.setProperty("cardRow", True)  # the card's background shows through
        row = QHBoxLayout(self.detail_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.note_label, 1)
        row.addWidget(self.delta_label, 1)
        layout.addWidget(self.detail_row)
        # Buttons and the peak share one row: every row less is height for the value.
        self.foot_row = QWidget(self)
        self.foot_row.setProperty("cardRow", True)
        buttons = QHBoxLayout(self.foot_row)
        buttons.setContentsMargins(0, 0, 0, 0)
        self.reset_button = QPushButton("Reset peak", self)
        self.reset_button.setToolTip(f"Forget the session peak of channel {channel}")
        self.reset_button.clicked.connect(lambda: hub.reset_peak(channel))
        self.ref_button = QPushButton("Set ref", self)
        self.ref_button.setToolTip(
            "Show this channel in dB relative to its present value (kept across restarts "
            "for this instrument, module, channel and wavelength)")
        self.ref_button.clicked.connect(self._toggle_reference)
        buttons.addWidget(self.reset_button)
        buttons.addWidget(self.ref_button)
        buttons.addWidget(self.peak_label, 1)
        layout.addWidget(self.foot_row)
        self.apply_theme(theme)
        self.refresh()

    def apply_theme(self, theme: Theme) -> None:
        """Colour the channel name like its chart curve."""
        colour = theme.channel_colour(self.channel).name()
        self.name_label.setStyleSheet(f"color: {colour}; font-weight: bold;")
        self.setStyleSheet(f"QFrame[readout=\"true\"] {{ border-left: 8px solid {colour}; "
                           "border-top-left-radius: 0; border-bottom-left-radius: 0; }")

    def refresh(self) -> None:
        """Redraw texts and style from the hub."""
        p = self.hub.presentation(self.channel)
        self.value_label.setText(p.value)
        if self.value_label.property("reading") != p.style:
            self.value_label.setProperty("reading", p.style)
            repolish(self.value_label)
        self.age_label.setText(p.age)
        self.peak_label.set_texts(p.peak, p.peak_short, p.peak_tip)
        self.delta_label.set_texts(
            p.delta, p.delta.replace("Δ to peak ", "Δ "),
            f"How far below its session peak this channel is (dB). {p.peak_tip}".strip())
        self.note_label.setText(p.note)
        self.error_label.setVisible(p.error)
        self.name_label.setText(self.hub.title(self.channel))
        has_ref = self.channel in self.hub.model.references
        self.ref_button.setText("Clear ref" if has_ref else "Set ref")
        self.setAccessibleName(f"{self.hub.title(self.channel)}: {p.value} {p.age}")

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Scale the fonts with the card so the value fills it (readable from 2 m)."""
        super().resizeEvent(event)
        w, h = event.size().width(), event.size().height()
        sizes = card_fonts(w, h, self.foot_row.sizeHint().height())
        # A tight card drops its detail rows before the value shrinks out of sight: the
        # number is what the card is for.
        self.detail_row.setVisible(sizes.detail)
        self.foot_row.setVisible(sizes.foot)
        font = QFont()
        font.setFamilies(VALUE_FAMILIES)
        font.setBold(True)
        font.setPixelSize(sizes.value_px)
        self.value_label.setFont(font)
        head = QFont()
        head.setBold(True)
        head.setPixelSize(sizes.head_px)
        for label in (self.name_label, self.error_label, self.age_label):
            label.setFont(head)
        small = QFont()
        small.setPixelSize(sizes.small_px)
        for label in (self.peak_label, self.note_label):
            label.setFont(small)
        delta = QFont(small)
        delta.setBold(True)
        delta.setPixelSize(sizes.detail_px)
        self.delta_label.setFont(delta)

    def _toggle_reference(self) -> None:
        if self.channel in self.hub.model.references:
            self.hub.clear_reference(self.channel)
        elif not self.hub.set_reference(self.channel):
            self.note_label.setText("no live value to use as reference")


class ReadoutGrid(QWidget):
    """Cards for the hub's channels, refreshed by a 10 Hz timer while visible."""

    def __init__(self, hub: ReadoutHub, theme: Theme, *, big: bool = False,
                 columns: int | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hub = hub
        self._theme = theme
        self._big = big
        self._columns = columns
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(8)
        self.cards: dict[int, ChannelCard] = {}
        self._cols = 1
        self._rebuild()
        hub.changed.connect(self._hub_changed)
        # 10 Hz: faster than the eye follows digits, slow enough to stay legible.
        self._timer = QTimer(self)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()

    def apply_theme(self, theme: Theme) -> None:
        """Restyle every card."""
        self._theme = theme
        for card in self.cards.values():
            card.apply_theme(theme)

    def refresh(self) -> None:
        """Redraw every card (skipped while hidden)."""
        if not self.isVisible():
            return
        for card in self.cards.values():
            card.refresh()

    def _hub_changed(self) -> None:
        if tuple(self.cards) != self.hub.model.channels:
            self._rebuild()
        for card in self.cards.values():
            card.refresh()

    @property
    def columns(self) -> int:
        """Return the number of card columns in use."""
        return self._cols

    def best_columns(self, width: int, height: int) -> int:
        """Return the column count that gives the largest value font in width × height px."""
        n = max(1, len(self.cards))
        if self._columns is not None:
            return min(self._columns, n)
        best, best_px = 1, -1.0
        for cols in range(1, n + 1):
            rows = math.ceil(n / cols)
            w, h = width / cols, height / rows
            if cols > 1 and w < MIN_CARD_WIDTH:
                break  # the buttons and the peak line need this much
            px = card_fonts(int(w), int(h), FOOT_ROW_PX).value_px
            if px > best_px + 1:  # ties go to fewer columns: wider cards, more text room
                best, best_px = cols, px
        return best

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Re-flow the cards so the numbers are as large as the space allows."""
        super().resizeEvent(event)
        cols = self.best_columns(event.size().width(), event.size().height())
        if cols != self._cols:
            self._place(cols)

    def _place(self, cols: int) -> None:
        self._cols = cols
        for card in self.cards.values():
            self._grid.removeWidget(card)
        for i, card in enumerate(self.cards.values()):
            self._grid.addWidget(card, i // cols, i % cols)
        rows = math.ceil(len(self.cards) / cols) if self.cards else 1
        # Rows/columns left from a previous flow stay in the grid: only used ones may stretch.
        for c in range(self._grid.columnCount()):
            self._grid.setColumnStretch(c, 1 if c < cols else 0)
        for r in range(self._grid.rowCount()):
            self._grid.setRowStretch(r, 1 if r < rows else 0)

    def _rebuild(self) -> None:
        for card in self.cards.values():
            self._grid.removeWidget(card)
            card.deleteLater()
        self.cards = {}
        for ch in self.hub.model.channels:
            self.cards[ch] = ChannelCard(self.hub, ch, self._theme, big=self._big, parent=self)
        self._place(self.best_columns(max(self.width(), 1), max(self.height(), 1)))


class ReadoutPanel(QWidget):
    """The readout row of the main window: cards plus unit toggle, reset and big-numbers."""

    big_numbers_requested = Signal()

    def __init__(self, hub: ReadoutHub, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hub = hub
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        self.unit_button = QPushButton(self)
        self.unit_button.setToolTip("Switch the readouts between dBm and mW (Ctrl+M)")
        # Shortcuts as actions: a button's own shortcut only animates a click 100 ms later.
        self.unit_action = QAction("Switch dBm / mW", self)
        self.unit_action.setShortcut(QKeySequence("Ctrl+M"))
        self.unit_action.triggered.connect(self._toggle_unit)
        self.addAction(self.unit_action)
        self.unit_button.clicked.connect(self._toggle_unit)
        bar.addWidget(self.unit_button)
        self.reset_all_button = QPushButton("Reset all peaks", self)
        self.reset_all_button.setToolTip("Forget every channel's session peak (Ctrl+0)")
        self.reset_peaks_action = QAction("Reset all peaks", self)
        self.reset_peaks_action.setShortcut(QKeySequence("Ctrl+0"))
        self.reset_peaks_action.triggered.connect(lambda: hub.reset_peak(None))
        self.addAction(self.reset_peaks_action)
        self.reset_all_button.clicked.connect(lambda: hub.reset_peak(None))
        bar.addWidget(self.reset_all_button)
        bar.addStretch(1)
        self.big_button = QPushButton("Big numbers (F11)", self)
        self.big_button.setToolTip("Full-screen readouts, readable from across the lab")
        self.big_button.clicked.connect(self.big_numbers_requested)
        bar.addWidget(self.big_button)
        layout.addLayout(bar)
        self.grid = ReadoutGrid(hub, theme, parent=self)
        layout.addWidget(self.grid, 1)
        hub.changed.connect(self._sync_unit)
        self._sync_unit()

    def apply_theme(self, theme: Theme) -> None:
        """Restyle the cards."""
        self.grid.apply_theme(theme)

    def _sync_unit(self) -> None:
        other = "mW" if self.hub.unit == "dBm" else "dBm"
        self.unit_button.setText(f"Show {other}")

    def _toggle_unit(self) -> None:
        self.hub.unit_requested.emit("mW" if self.hub.unit == "dBm" else "dBm")
