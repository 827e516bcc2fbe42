"""Watch the instrument for changes made elsewhere: scans started and settings changed.

The CTP10 is shared: its front panel or another SCPI client may start a sweep, take a
reference, change a detector's wavelength or reset the instrument (``*RST``) while the app
polls. Every WATCH_INTERVAL_S the power poller adds these queries to its compound message (no
extra round trip): the operation condition register, then the polled detectors' calibration
wavelengths and the global scan range and step. A setting that differs from the previous
reading was changed by someone else, unless this app sent a request since (``forget()``):
one event names every change; several at once read as a reset.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

from ctp10_gui.hardware.scpi import Control, Detector, Sweep, format_number, is_no_value

__all__ = [
    "CHANGED_ELSEWHERE_EVENT",
    "CONDITION_QUERY",
    "WATCH_INTERVAL_S",
    "WATCH_OFF_EVENT",
    "InstrumentWatch",
]

log = logging.getLogger(__name__)

CONDITION_QUERY = ":STAT:OPER:COND?"
WATCH_INTERVAL_S = 0.25  # s between two readings of the condition register and the settings
CHANGED_ELSEWHERE_EVENT = "changed_elsewhere"  # a setting differs and this app did not send it
WATCH_OFF_EVENT = "watch_off"  # the instrument refused a watch query: not watched any more
# Changes of this many settings in one reading are said to look like a reset (*RST).
RESET_LIKE_CHANGES = 2


def _control(controls: tuple[Control, ...], name: str) -> Control:
    return next(c for c in controls if c.name == name)


class InstrumentWatch:
    """Build the watch queries of module (1–20), channels (1–6); read their replies."""

    def __init__(self, module: int, channels: Sequence[int]) -> None:
        wavelength = _control(Detector.controls, "wavelength_nm")
        assert wavelength.get_command is not None
        watched: list[tuple[str, Control, str]] = [
            (f"module {module} channel {c} {wavelength.label.lower()}", wavelength,
             wavelength.get_command.format(m=module, c=c))
            for c in channels
        ]
        for name in ("start_nm", "stop_nm", "sampling_pm"):
            control = _control(Sweep.controls, name)
            assert control.get_command is not None
            watched.append((control.label.lower(), control, control.get_command))
        self._watched = tuple(watched)
        self.commands: tuple[str, ...] = (CONDITION_QUERY, *(cmd for _, _, cmd in watched))
        self._values: list[Any] | None = None  # of the last reading; None: no baseline

    def forget(self) -> None:
        """Take the next reading as the baseline (this app may have changed settings)."""
        self._values = None

    def read(self, replies: Sequence[str]) -> tuple[int | None, str]:
        """Return (condition register or None if unreadable, sentence naming changes or "")."""
        condition = _register(replies[0])
        values = [_value(control, reply) for (_, control, _), reply
                  in zip(self._watched, replies[1:], strict=True)]
        old, self._values = self._values, values
        if old is None:
            return condition, ""
        changes = [
            f"{what} {_text(control, new)} (was {_text(control, before)})"
            for (what, control, _), before, new in zip(self._watched, old, values, strict=True)
            if before is not None and new is not None and not _same(before, new)
        ]
        if not changes:
            return condition, ""
        text = "changed on the instrument by another client: " + "; ".join(changes)
        if len(changes) >= RESET_LIKE_CHANGES:
            text += " (several at once: a reset, *RST?)"
        log.warning("%s", text)
        return condition, text


def _register(reply: str) -> int | None:
    try:
        number = float(reply.strip())
    except ValueError:
        return None
    return int(number) if number.is_integer() and number >= 0 else None


def _value(control: Control, reply: str) -> Any:
    if is_no_value(reply):
        return None
    try:
        return control.decode(reply)
    except ValueError:
        return None


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)
    return bool(a == b)


def _text(control: Control, value: Any) -> str:
    unit = f" {control.unit}" if control.unit else ""
    return f"{format_number(value)}{unit}" if isinstance(value, float) else f"{value}{unit}"
