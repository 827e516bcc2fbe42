"""Recordings carry the derived channels (a column pair each) and the channels' user names."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from ctp10_gui.hardware.power import ChannelStatus
from ctp10_gui.models.derived import DerivedChannel
from ctp10_gui.models.recording.flight_recorder import FlightRecorder
from ctp10_gui.models.recording.format import RecordingMetadata
from ctp10_gui.models.recording.live_recorder import LiveRecorder
from ctp10_gui.models.samples import SnapshotBatch

OK, UNDER, OVER, ERROR = (int(s) for s in ChannelStatus)
T0 = 1_764_000_000.0
IL = DerivedChannel.parse("IL", "CH4 - CH3")
RATIO = DerivedChannel.parse("ratio", "CH1 / CH2")
SUM = DerivedChannel.parse("sum", "CH1 + CH2")
OFF_MODULE = DerivedChannel.parse("far", "CH5 - CH6")  # inputs not recorded: no columns


def _meta(unit: str = "dBm") -> RecordingMetadata:
    return RecordingMetadata(module=4, channels=(1, 2, 3, 4), unit=unit,  # type: ignore[arg-type]
                             derived=(IL, RATIO, SUM, OFF_MODULE),
                             channel_labels={3: "input GC", 4: "out fiber"})


def _batch() -> SnapshotBatch:
    values = np.array([[-3.0, -6.0, -10.0, -11.5],
                       [-3.0, -80.0, -10.0, -80.0],  # CH2 and CH4 under range
                       [-3.0, -6.0, np.nan, -12.0]])  # CH3 error
    status = np.array([[OK, OK, OK, OK], [OK, UNDER, OK, UNDER], [OK, OK, ERROR, OK]], np.int8)
    values = np.where(status == OK, values, np.nan)
    t = T0 + 0.001 * np.arange(3)
    return SnapshotBatch(4, (1, 2, 3, 4), t - T0, t, values, status)


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_a_live_recording_writes_derived_columns_read_back_with_honest_statuses(
        tmp_path: Path) -> None:
    rec = LiveRecorder(wall_clock=lambda: T0)
    assert rec.start(tmp_path, _meta())
    rec.write_batch(_batch())
    rec.write_event("note", "moved the fiber", T0 + 0.01)
    status = rec.stop()
    assert status.error is None
    rows = _read(status.files[0])
    header = list(rows[0])
    assert header[10:] == ["IL_dB", "IL_status", "ratio_ratio", "ratio_status", "sum_mW",
                           "sum_status", "event"]
    first, under, error, event = rows
    assert float(first["IL_dB"]) == pytest.approx(-1.5)
    assert float(first["ratio_ratio"]) == pytest.approx(10 ** 0.3, rel=1e-5)
    assert float(first["sum_mW"]) == pytest.approx(10 ** -0.3 + 10 ** -0.6, rel=1e-5)
    # CH4 under range: IL lies below the floor (under), never a made-up number.
    assert (under["IL_dB"], under["IL_status"]) == ("", "under")
    # CH2 under range: CH1/CH2 is above what can be said (over); the sum is CH1 alone.
    assert (under["ratio_ratio"], under["ratio_status"]) == ("", "over")
    assert float(under["sum_mW"]) == pytest.approx(10 ** -0.3, rel=1e-5)
    assert (error["IL_dB"], error["IL_status"]) == ("", "error")
    assert error["ratio_status"] == "ok"
    assert event["event"] == "note: moved the fiber" and event["IL_dB"] == ""
    side = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert side["channel_labels"] == {"1": "IN1", "2": "IN2", "3": "input GC", "4": "out fiber"}
    assert side["derived"][0] == {"name": "IL", "expression": "CH4 − CH3", "unit": "dB",
                                  "value_column": "IL_dB", "status_column": "IL_status"}
    assert [d["unit"] for d in side["derived"]] == ["dB", "ratio", "mW", "dB"]
    assert side["files"][0]["derived"] == ["IL", "ratio", "sum"]


def test_the_flight_recorder_saves_derived_columns_too(tmp_path: Path) -> None:
    fr = FlightRecorder(minutes=1, wall_clock=lambda: T0 + 1.0)
    batch = _batch()
    fr.append(batch)
    result = fr.save_last(1, tmp_path, _meta(unit="mW"))
    rows = _read(result.files[0])
    assert float(rows[0]["ch1_mW"]) == pytest.approx(10 ** -0.3, rel=1e-5)
    assert float(rows[0]["IL_dB"]) == pytest.approx(-1.5, abs=1e-4)  # dB whatever the unit
    assert rows[1]["IL_status"] == "under" and math.isnan(float(rows[1]["IL_dB"] or "nan"))
