"""Generic instrument fields built from the driver's declare-once Control descriptors.

Each field shows its label, unit and valid range; checks input with ``Control.validate`` before
anything is queued (an out-of-range value never reaches the instrument); sends the set through
the link controller's request queue; shows the value read back; and shows an instrument error
(``SYST:ERR?``) or link error next to the field that caused it. While the link is not usable the
whole form is read-only and says why.
"""

from __future__ import annotations

import enum
import logging
import math
import numbers
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from functools import partial

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from ctp10_gui import procedures
from ctp10_gui.hardware.errors import (
    InstrumentError,
    LinkError,
    NotAvailableError,
    OutOfRangeError,
)
from ctp10_gui.hardware.scpi import Control, format_number
from ctp10_gui.link.port import LinkPort
from ctp10_gui.procedures import ControlGroup
from ctp10_gui.views.theme import repolish

log = logging.getLogger(__name__)

# Decimals shown per unit: nm to 0.1 pm, powers to 0.01 dB.
_DECIMALS = {"nm": 4, "dBm": 2, "dB": 2, "mW": 4, "pm": 3, "s": 2, "nm/s": 1, "THz": 5,
             "GHz": 2, "Hz": 0}


def format_value(value: object, unit: str = "", *, with_unit: bool = True) -> str:
    """Return a value as shown to the user ("1550.000 nm", "On", "DBM", "—" for None)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "On" if value else "Off"
    if isinstance(value, enum.Enum):
        return str(value.name)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "—"
        decimals = _DECIMALS.get(unit, 4)
        text = f"{value:.{decimals}f}"
        if unit == "pm":  # sampling steps: 1 pm, 0.02 pm; zeros after them mean nothing
            text = text.rstrip("0").rstrip(".")
        elif decimals > 3 and "." in text:  # 1550.1000 -> 1550.100: trailing zeros past pm go
            text = text.rstrip("0")
            whole, _, frac = text.partition(".")
            text = f"{whole}.{frac.ljust(3, '0')}"
    else:
        text = str(value)
    return f"{text} {unit}".strip() if with_unit else text


def parse_text(control: Control, text: str) -> object:
    """Turn the editor text into the control's kind; ValueError with a sentence if impossible."""
    kind = control.kind
    stripped = text.strip().replace(",", ".")
    if not stripped:
        raise ValueError(f"{control.label}: enter a value")
    if kind is float:
        try:
            return float(stripped)
        except ValueError:
            raise ValueError(f"{control.label}: '{text}' is not a number") from None
    if kind is int:
        try:
            number = float(stripped)
        except ValueError:
            raise ValueError(f"{control.label}: '{text}' is not a number") from None
        if not number.is_integer():
            raise ValueError(f"{control.label}: '{text}' must be a whole number")
        return int(number)
    return stripped


def refusal_text(exc: OutOfRangeError, label: str, unit: str = "") -> str:
    """Return a refusal in the user's words: "Start 1700 nm is out of range: valid is …"."""
    value = exc.value
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        shown = f"{format_number(float(value))} {unit}".strip()
    else:
        shown = repr(value)
    return f"{label} {shown} {exc.reason or 'is out of range'}: valid is {exc.valid}"


def _uses_choices(control: Control) -> bool:
    """Return True when the control is best offered as a drop-down (bool, enum, short set)."""
    kind = control.kind
    if kind is bool or (isinstance(kind, type) and issubclass(kind, enum.Enum)):
        return True
    return bool(control.allowed) and control.minimum is None and control.maximum is None


def _suggestions(control: Control) -> list[tuple[str, object]]:
    """Return preferred values of a number: its allowed set, else round values within range."""
    values: list[float] = sorted(control.allowed or ())
    low, high = control.minimum, control.maximum
    if low is not None and high is not None:
        nice = [v for v in (1, 2, 5, 10, 20, 50, 100, 200, 250) if low <= v <= high]
        values.extend(v for v in (low, *nice, high) if v not in values)
    return [(format_value(v, ""), v) for v in sorted(set(values))]


def _choices(control: Control) -> list[tuple[str, object]]:
    kind = control.kind
    if kind is bool:
        return [("Off", False), ("On", True)]
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        members = control.allowed or tuple(kind)
        return [(m.name, m) for m in members]
    return [(format_value(v, ""), v) for v in (control.allowed or ())]


class ControlField(QObject):
    """One row of a ControlForm: label, editor, unit, range, Set, read-back and message."""

    set_requested = Signal(str, object)  # control name, validated value

    def __init__(
        self, control: Control, grid: QGridLayout, row: int, parent: QWidget, *,
        suggest: bool = False,
    ) -> None:
        super().__init__(parent)
        self.control = control
        self.name: str = control.name
        self._unavailable = ""
        self.writable = control.set_command is not None
        self.label = QLabel(control.label, parent)
        self.label.setObjectName(f"label_{self.name}")
        self.combo: QComboBox | None = None
        self.edit: QLineEdit | None = None
        editor: QWidget
        if not self.writable:
            editor = QLabel("—", parent)  # read-only value (identity ...)
            editor.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        elif _uses_choices(control):
            self.combo = QComboBox(parent)
            self.combo.setObjectName(f"combo_{self.name}")
            self._fill_choices(_choices(control))
            editor = self.combo
        elif control.allowed or suggest:
            # A number with a few preferred values (sampling, speed steps): offer them, and
            # still accept anything typed (validated like a line edit).
            self.combo = QComboBox(parent)
            self.combo.setObjectName(f"combo_{self.name}")
            self.combo.setEditable(True)
            self.combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
            self.combo.setMinimumWidth(90)
            self._fill_choices(_suggestions(control))
            self._wire_line_edit()
            editor = self.combo
        else:
            self.edit = QLineEdit(parent)
            self.edit.setObjectName(f"edit_{self.name}")
            self.edit.setMinimumWidth(90)
            self.edit.returnPressed.connect(self.submit)
            self.edit.textEdited.connect(self._clear_invalid)
            editor = self.edit
        self.editor = editor
        self.unit = QLabel(control.unit, parent)
        self.range = QLabel(self._range_text(), parent)
        self.range.setProperty("role", "hint")
        # A long allowed-value list wraps instead of widening the window past a laptop screen.
        self.range.setWordWrap(True)
        self.set_button = QPushButton("Set", parent)
        self.set_button.setObjectName(f"set_{self.name}")
        self.set_button.setToolTip(f"Send {control.label} to the instrument")
        self.set_button.clicked.connect(self.submit)
        self.set_button.setVisible(self.writable)
        self.readback = QLabel("—", parent)
        self.readback.setObjectName(f"readback_{self.name}")
        self.readback.setToolTip("Value read back from the instrument")
        self.message = QLabel("", parent)
        self.message.setObjectName(f"message_{self.name}")
        self.message.setWordWrap(True)
        self.message.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setBuddy(editor)
        for col, widget in enumerate(
            (self.label, editor, self.unit, self.set_button, self.readback, self.range)
        ):
            grid.addWidget(widget, row, col)
        grid.addWidget(self.message, row + 1, 1, 1, 5)
        self.message.hide()
        self.last_value: object = None
        self.pending = False

    # -- what the user sees -----------------------------------------------------------------
    @property
    def editable_choices(self) -> bool:
        """Return True when the editor is a drop-down of suggestions that also takes typing."""
        return self.combo is not None and self.combo.isEditable()

    @property
    def unavailable(self) -> str:
        """Return why this field cannot be set right now ("" when it can)."""
        return self._unavailable

    def _range_text(self) -> str:
        derive = self.control.derive
        if not self.writable:
            return f"from {derive[0].removesuffix('_nm')}" if derive else "read only"
        try:
            return str(self.control.range_text)
        except (AttributeError, TypeError, ValueError) as exc:
            log.debug("no range text for %s: %s", self.name, exc)
            return ""

    def _wire_line_edit(self) -> None:
        """Send on Enter and clear the invalid marking on typing in the editable combo."""
        assert self.combo is not None
        line = self.combo.lineEdit()
        if line is not None:  # an editable combo always has one; Qt's type says it may not
            line.returnPressed.connect(self.submit)
            line.textEdited.connect(self._clear_invalid)

    def set_control(self, control: Control) -> None:
        """Validate against another declaration of this setting (e.g. a laser's speed steps)."""
        # A number with a fixed set of values (a laser's speeds) becomes a plain choice; with a
        # span it takes typing again, with round values suggested.
        self.control = control
        self.range.setText(self._range_text())
        number = not (control.kind is bool or (
            isinstance(control.kind, type) and issubclass(control.kind, enum.Enum)))
        if self.combo is not None and number:
            if _uses_choices(control):
                self.combo.setEditable(False)
                self._fill_choices(_choices(control))
            else:
                if not self.combo.isEditable():
                    self.combo.setEditable(True)
                    self._wire_line_edit()
                self._fill_choices(_suggestions(control))
            if self.last_value is not None:
                self.show_value(self.last_value)
        self.set_unavailable("")

    def set_unavailable(self, reason: str) -> None:
        """Refuse every value with `reason` shown next to the field ("" lifts the refusal)."""
        previous = self._unavailable
        self._unavailable = reason
        if reason:
            self.show_error(reason)
        elif previous and self.message.text() == previous:
            self.clear_message()

    def _fill_choices(self, items: list[tuple[str, object]]) -> None:
        assert self.combo is not None
        current = self.combo.currentText()
        self.combo.blockSignals(True)
        self.combo.clear()
        for text, value in items:
            self.combo.addItem(text, value)
        if self.combo.isEditable():
            self.combo.setEditText(current)
        else:
            index = self.combo.findText(current)
            if index >= 0:
                self.combo.setCurrentIndex(index)
        self.combo.blockSignals(False)

    def value_text(self) -> str:
        """Return the editor's current text."""
        if self.edit is not None:
            return self.edit.text()
        if self.combo is not None:
            return self.combo.currentText()
        return ""

    def set_editor_text(self, text: str) -> None:
        """Type text into the editor (or select the matching choice), as a user would."""
        if self.edit is not None:
            self.edit.setText(text)
        elif self.editable_choices:
            assert self.combo is not None
            self.combo.setEditText(text)
        elif self.combo is not None:
            index = self.combo.findText(text)
            if index < 0:
                raise ValueError(f"{self.control.label}: '{text}' is not offered")
            self.combo.setCurrentIndex(index)

    def editor_value(self) -> object:
        """Return the typed/selected value parsed to the control's kind (ValueError if not)."""
        if self.combo is not None and not self.combo.isEditable():
            if self.combo.currentIndex() < 0:  # the instrument holds a value not offered
                raise ValueError(f"{self.control.label}: choose one of the offered values")
            return self.combo.currentData()
        return parse_text(self.control, self.value_text())

    def show_value(self, value: object) -> None:
        """Show a value read from the instrument in the read-back label and the editor."""
        self.last_value = value
        text = format_value(value, self.control.unit)
        self.readback.setText(text)
        shown = format_value(value, self.control.unit, with_unit=False)
        if self.edit is not None:
            if not self.edit.hasFocus():
                self.edit.setText(shown)
        elif self.editable_choices:
            assert self.combo is not None
            if not self.combo.hasFocus():
                self.combo.setEditText(shown)
        elif self.combo is not None:
            # A value not offered (set from the front panel) leaves no choice selected, so
            # Set never sends a neighbour the user did not pick.
            self.combo.blockSignals(True)
            self.combo.setCurrentIndex(self.combo.findData(value))
            self.combo.blockSignals(False)
        elif isinstance(self.editor, QLabel):
            self.editor.setText(shown)

    def show_error(self, text: str) -> None:
        """Show an error next to the field (red, selectable)."""
        self._show_message(text, "error")
        if self.edit is not None:
            self.edit.setProperty("valid", False)
            repolish(self.edit)

    def show_note(self, text: str, role: str = "hint") -> None:
        """Show a neutral or confirming note next to the field ("hint" or "ok")."""
        self._show_message(text, role)

    def _show_message(self, text: str, role: str) -> None:
        self.message.setText(text)
        self.message.setProperty("role", role)
        repolish(self.message)
        self.message.setVisible(bool(text))

    def clear_message(self) -> None:
        """Hide the message and the invalid marking."""
        self._show_message("", "hint")
        self._clear_invalid()

    def _clear_invalid(self, *_: object) -> None:
        if self.edit is not None and self.edit.property("valid") is False:
            self.edit.setProperty("valid", True)
            repolish(self.edit)

    def set_enabled(self, on: bool) -> None:
        """Allow or forbid editing (read-only keeps the values visible)."""
        if self.edit is not None:
            self.edit.setReadOnly(not on)
        if self.combo is not None:
            self.combo.setEnabled(on)
        self.set_button.setEnabled(on and not self.pending)

    # -- input --------------------------------------------------------------------------------
    def submit(self) -> None:
        """Validate the editor value; if valid, ask the form to send it, else say why."""
        if self._unavailable:
            self.show_error(f"Not sent: {self._unavailable}")
            return
        try:
            value = self.control.validate(self.editor_value())
        except OutOfRangeError as exc:
            refusal = refusal_text(exc, self.control.label, self.control.unit)
            self.show_error(f"Not sent: {refusal}")
            return
        except ValueError as exc:
            self.show_error(f"Not sent: {exc}")
            return
        self.clear_message()
        self.set_requested.emit(self.name, value)


class ControlForm(QWidget):
    """Grid of ControlFields for one channel object (a TLS, reference laser, detector, sweep)."""

    value_read = Signal(str, object)  # control name, value read back (after a set or a refresh)
    value_set = Signal(str, object)  # control name, value read back after the user's set
    field_error = Signal(str, str)  # control name, message shown next to it
    refreshed = Signal()  # every readable control has been read once more

    def __init__(
        self,
        controller: LinkPort,
        group: ControlGroup,
        controls: Sequence[Control],
        parent: QWidget | None = None,
        *,
        confirm_s: Mapping[str, float] | None = None,
        suggest: Sequence[str] = (),
        reapply_key: Callable[[str], Hashable | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Build rows for `controls`.

        confirm_s: slow controls polled after a set until the instrument confirms (deadline s);
        suggest: numeric controls offered as a drop-down of preferred values (typing allowed).
        reapply_key: name -> key for controller.apply_setting (sent again after a reconnect to
            the same instrument), or None for a one-off set.
        """
        super().__init__(parent)
        self._controller = controller
        self._group = group
        self._confirm_s = dict(confirm_s or {})
        self._reapply_key = reapply_key
        self._clock = clock
        self._generation = 0  # bumped when the channel changes: late replies are dropped
        self._online = False
        self.offline_reason = "not connected"
        self.absent_reason = ""  # why the channel's hardware is not there ("" when it is)
        grid = QGridLayout(self)
        grid.setContentsMargins(4, 4, 4, 4)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(2)
        grid.setColumnStretch(5, 1)
        for col, title in enumerate(("Setting", "Value", "Unit", "", "Read back", "Valid range")):
            header = QLabel(title, self)
            header.setProperty("role", "hint")
            grid.addWidget(header, 0, col)
        self.fields: dict[str, ControlField] = {}
        for i, control in enumerate(controls):
            field = ControlField(control, grid, 1 + 2 * i, self, suggest=control.name in suggest)
            field.set_requested.connect(self._send)
            self.fields[control.name] = field
        self._pollers: dict[str, QTimer] = {}
        self.set_online(False, self.offline_reason)

    # -- state --------------------------------------------------------------------------------
    @property
    def online(self) -> bool:
        """Return True when fields may be edited and sent."""
        return self._online

    @property
    def editable(self) -> bool:
        """Return True when the link takes commands and the channel's hardware is there."""
        return self._online and not self.absent_reason

    def set_online(self, on: bool, reason: str = "") -> None:
        """Make the form editable, or read-only with `reason` in every Set button's tooltip."""
        self._online = on
        self.offline_reason = "" if on else reason
        self._show_editable()

    def set_absent(self, reason: str) -> None:
        """Say the channel's hardware is missing (reason) or there (""): no active controls."""
        self.absent_reason = reason
        for field in self.fields.values():
            if reason:  # no value of another channel may look like this one's
                field.last_value = None
                field.readback.setText("—")
                field.clear_message()
                if field.edit is not None:
                    field.edit.clear()
                elif field.combo is not None:
                    field.combo.setCurrentIndex(-1)
                    field.combo.setEditText("")
            if field.edit is not None:
                field.edit.setEnabled(not reason)
        self._show_editable()

    def _show_editable(self) -> None:
        editable = self.editable
        for field in self.fields.values():
            field.set_enabled(editable)
            if self.absent_reason:
                tip = f"Not available: {self.absent_reason}"
            elif self._online:
                tip = f"Send {field.control.label} to the instrument"
            else:
                tip = f"Read-only: {self.offline_reason}"
            field.set_button.setToolTip(tip)

    @property
    def group(self) -> ControlGroup:
        """Return the channel of settings the form shows (e.g. TLS 2)."""
        return self._group

    def set_group(self, group: ControlGroup, *, refresh: bool = True) -> None:
        """Point the form at another channel of settings (e.g. TLS 2) and re-read it."""
        self._group = group
        self._generation += 1
        for timer in self._pollers.values():
            timer.stop()
        self._pollers.clear()
        for field in self.fields.values():
            field.pending = False
            field.clear_message()
            field.readback.setText("—")
        if refresh:
            self.refresh()

    # -- reading ------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Read every readable control in one queued request and show the values."""
        if not self._online:
            return
        if self.absent_reason:  # nothing to read: the hardware is not there
            self.refreshed.emit()
            return
        names = [
            f.name for f in self.fields.values() if f.control.get_command or f.control.derive
        ]
        generation = self._generation

        def done(values: dict[str, object]) -> None:
            if generation != self._generation:
                return
            for name, value in values.items():
                field = self.fields[name]
                if isinstance(value, NotAvailableError):
                    field.show_note("not available (the instrument gives no value now)", "hint")
                elif isinstance(value, Exception):
                    field.show_error(f"Read failed: {value}")
                    self.field_error.emit(name, field.message.text())
                else:
                    if not field.pending:
                        field.show_value(value)
                    self.value_read.emit(name, value)
            self.refreshed.emit()

        # One request for the whole form (a LinkError ends it: the link is gone).
        self._controller.request(partial(procedures.read_controls, group=self._group, names=names),
                                 done, self._on_request_error(None, generation))

    # -- writing ------------------------------------------------------------------------------
    def submit(self, name: str, text: str) -> None:
        """Type `text` into field `name` and press Set (used by tests and shortcuts)."""
        field = self.fields[name]
        field.set_editor_text(text)
        field.submit()

    def _send(self, name: str, value: object) -> None:
        field = self.fields[name]
        if self.absent_reason:
            field.show_error(f"Not sent: {self.absent_reason}")
            self.field_error.emit(name, field.message.text())
            return
        if not self._online:
            field.show_error(f"Not sent: read-only while {self.offline_reason}")
            self.field_error.emit(name, field.message.text())
            return
        generation = self._generation
        field.show_note(f"Sending {format_value(value, field.control.unit)}…")
        set_value = partial(procedures.write_control, group=self._group, name=name, value=value)

        def done(readback: object) -> None:
            if generation != self._generation:
                return
            if name in self._confirm_s and readback != value:
                self._start_confirm(name, value)
                return
            field.show_value(readback)
            field.clear_message()
            self._clear_errors()
            self.value_read.emit(name, readback)
            self.value_set.emit(name, readback)
            # A set may move other settings (stop follows start, a new laser position brings
            # its own range, speed and power): show what the instrument holds now.
            self.refresh()

        on_error = self._on_request_error(name, generation)
        key = self._reapply_key(name) if self._reapply_key is not None else None
        if key is not None:
            self._controller.apply_setting(key, set_value, done, on_error)
        else:
            self._controller.request(set_value, done, on_error)

    def _clear_errors(self) -> None:
        """Hide the errors under every field: a set just worked, so the link and group do."""
        # A field that cannot be set at all (no laser: no speed) keeps saying why.
        for field in self.fields.values():
            if field.message.property("role") == "error" and not field.unavailable:
                field.clear_message()

    def _on_request_error(self, name: str | None, generation: int) -> Callable[[Exception], None]:
        def on_error(exc: Exception) -> None:
            if generation != self._generation:
                return
            if isinstance(exc, InstrumentError):
                text = f"Instrument error {exc}"
            elif isinstance(exc, OutOfRangeError):  # refused by the driver: name the field
                refused = self.fields.get(exc.name)
                control = refused.control if refused is not None else None
                text = "Not sent: " + refusal_text(exc, control.label if control else exc.name,
                                                   control.unit if control else "")
            elif isinstance(exc, LinkError):
                text = f"Link error: {exc}"
            else:
                text = f"Failed: {exc}"
            if name is None and isinstance(exc, LinkError):
                # The link went away under a refresh: the read-only banner says so already.
                log.info("refresh not done: %s", exc)
                return
            log.warning("%s: %s", name or "refresh", text)
            targets = [name] if name else [f.name for f in self.fields.values()]
            if name is None:  # a failed refresh: one note on the first field is enough
                targets = targets[:1]
            for target in targets:
                field = self.fields[target]
                field.pending = False
                field.set_enabled(self.editable)
                field.show_error(text)
                self.field_error.emit(target, text)

        return on_error

    # -- slow confirmations (reference laser output) --------------------------------------------
    def _start_confirm(self, name: str, target: object) -> None:
        """Poll control `name` every 0.25 s until it reads `target` or its deadline passes."""
        field = self.fields[name]
        field.pending = True
        field.set_enabled(self.editable)
        deadline = self._clock() + self._confirm_s[name]
        text = format_value(target, field.control.unit)
        field.readback.setText(f"→ {text}…")
        field.show_note(f"Switching to {text}: waiting for the instrument to confirm…")
        generation = self._generation
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.setInterval(250)
        self._pollers[name] = timer

        def poll() -> None:
            if generation != self._generation or not self._online:
                field.pending = False
                field.set_enabled(self.editable)
                return
            on_error = self._on_request_error(name, generation)
            self._controller.request(partial(procedures.read_control, group=self._group,
                                             name=name), check, on_error)

        def check(value: object) -> None:
            if generation != self._generation:
                return
            if value == target:
                field.pending = False
                field.set_enabled(self.editable)
                field.show_value(value)
                field.show_note(f"Confirmed: {text}", "ok")
                self.value_read.emit(name, value)
            elif self._clock() >= deadline:
                field.pending = False
                field.set_enabled(self.editable)
                field.show_value(value)
                field.show_error(
                    f"Instrument did not confirm {text} within {self._confirm_s[name]:.0f} s "
                    f"(reads {format_value(value, field.control.unit)})"
                )
                self.field_error.emit(name, field.message.text())
            else:
                timer.start()

        timer.timeout.connect(poll)
        poll()

    def is_pending(self, name: str) -> bool:
        """Return True while a slow set of `name` awaits the instrument's confirmation."""
        return self.fields[name].pending
