"""Session names: date, time, serial, module, channels and a safe sample label."""

from __future__ import annotations

import time

import pytest

from ctp10_gui.models.recording.naming import (
    NO_SERIAL,
    PART_NAME,
    SIDECAR_NAME,
    channels_text,
    safe_name_part,
    session_stem,
)

T0 = 1_764_000_000.0


@pytest.mark.parametrize(("channels", "text"), [
    ((1, 2, 3, 4), "CH1-4"), ((1, 2, 5), "CH1-2+5"), ((3,), "CH3"), ((6, 1, 3), "CH1+3+6"),
])
def test_channel_sets_are_written_as_runs(channels: tuple[int, ...], text: str) -> None:
    assert channels_text(channels) == text


def test_a_session_name_carries_date_serial_module_channels_and_label() -> None:
    stamp = time.strftime("%Y-%m-%d_%H%M%S", time.localtime(T0))
    name = session_stem(T0, "CTP10-SIM-0001", 4, (1, 2, 3, 4), "ring 7")
    assert name == f"{stamp}_CTP10-SIM-0001_M4_CH1-4_ring-7"
    assert session_stem(T0, None, 2, (1,)) == f"{stamp}_{NO_SERIAL}_M2_CH1"


@pytest.mark.parametrize(("label", "safe"), [
    ("../../etc/passwd", "etc-passwd"),
    ("wafer 12 / die:C4", "wafer-12-die-C4"),
    ("  .hidden  ", "hidden"),
    ("con?*<>|", "con"),
    ("x" * 100, "x" * 40),
    ("???", ""),
])
def test_labels_become_safe_file_name_parts(label: str, safe: str) -> None:
    assert safe_name_part(label) == safe


def test_new_and_older_names_are_both_recognised_with_their_parts() -> None:
    name = session_stem(T0, "SN1", 4, (1, 2), "a_part002")
    assert PART_NAME.match(f"{name}-2_part003.csv").groups() == (f"{name}-2", "003")
    assert SIDECAR_NAME.match(f"{name}.json")
    assert PART_NAME.match("session_20261204-153012-3_part001.csv").group(1) == (
        "session_20261204-153012-3")
    assert not SIDECAR_NAME.match("settings.json")
    assert not PART_NAME.match("notes_part001.csv")
