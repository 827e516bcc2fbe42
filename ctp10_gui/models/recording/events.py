"""Event rows beyond link events: sweeps, detector references' changes, setting changes.

Link events keep their kinds (connection.NOTIFY_KINDS); these kinds sit beside them in the
event column as ``kind: text``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from ctp10_gui.hardware.ctp10 import ReferenceResult

SWEEP_EVENT = "sweep"  # text: "started", or the outcome and its sentence
REFERENCE_EVENT = "reference"  # text: the channel and its reference state
SETTING_EVENT = "setting"  # text: a setting set, or changed between two state reads
READOUTS_RESET_EVENT = "readouts_reset"  # text: why peaks and statistics started afresh


def describe_reference(module: int, channel: int, result: ReferenceResult) -> str:
    """Return 'M4 CH1: none' or 'M4 CH1: taken 2026-12-04 04:15:02 (state 1, type 1)'."""
    where = f"M{module} CH{channel}"
    if result.state == 0:
        return f"{where}: none"
    when = f" {result.taken:%Y-%m-%d %H:%M:%S}" if result.taken is not None else ""
    return f"{where}: taken{when} (state {result.state}, type {result.type})"


class ReferenceChanges:
    """Turn reference read-backs into event texts: one per channel whose reference changed.

    The first read of a channel counts as a change, so a recording states the references the
    data was taken with; reading the same state again adds nothing.
    """

    def __init__(self) -> None:
        self._known: dict[tuple[int, int], tuple[int, int, datetime | None]] = {}

    def changes(self, results: Iterable[tuple[int, int, ReferenceResult]]) -> list[str]:
        """Return the texts of the channels whose state differs from the last one seen."""
        texts: list[str] = []
        for module, channel, result in results:
            state = (result.state, result.type, result.taken)
            if self._known.get((module, channel)) == state:
                continue
            self._known[(module, channel)] = state
            texts.append(describe_reference(module, channel, result))
        return texts
