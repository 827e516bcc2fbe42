"""Reference read-backs become one event text per channel whose reference changed."""

from __future__ import annotations

from datetime import datetime

from ctp10_gui.hardware.ctp10 import ReferenceResult
from ctp10_gui.models.recording.events import ReferenceChanges, describe_reference

NONE = ReferenceResult(0, 0, None, "0,0")
TAKEN = ReferenceResult(1, 1, datetime(2026, 12, 4, 4, 15, 2), "1,1,2026,12,4,4,15,2")
RETAKEN = ReferenceResult(1, 1, datetime(2026, 12, 4, 5, 0, 0), "1,1,2026,12,4,5,0,0")


def test_reference_texts_name_channel_state_and_time() -> None:
    assert describe_reference(4, 1, NONE) == "M4 CH1: none"
    assert describe_reference(4, 3, TAKEN) == "M4 CH3: taken 2026-12-04 04:15:02 (state 1, type 1)"
    no_date = ReferenceResult(1, 2, None, "1,2")
    assert describe_reference(20, 6, no_date) == "M20 CH6: taken (state 1, type 2)"


def test_only_changed_channels_give_texts() -> None:
    changes = ReferenceChanges()
    assert changes.changes([(4, 1, NONE), (4, 2, NONE)]) == ["M4 CH1: none", "M4 CH2: none"]
    assert changes.changes([(4, 1, NONE), (4, 2, NONE)]) == []  # read again, nothing new
    assert changes.changes([(4, 1, TAKEN), (4, 2, NONE)]) == [describe_reference(4, 1, TAKEN)]
    assert changes.changes([(4, 1, RETAKEN)]) == [describe_reference(4, 1, RETAKEN)]
    assert changes.changes([(5, 1, RETAKEN)]) == [describe_reference(5, 1, RETAKEN)]
