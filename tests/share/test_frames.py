"""The seed's query rules and frame shapes, and the --serve address (plain Python)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ctp10_gui.share.address import is_loopback, parse_serve_address
from ctp10_gui.share.frames import (
    StreamQuery,
    batch_frame,
    data_frame,
    error_frame,
    heartbeat_frame,
    parse_query,
    path_of,
    snapshot_rows,
)


def test_query_defaults_and_limits() -> None:
    assert parse_query("/ws/power") == StreamQuery(4, 0.1)
    assert parse_query("/ws/power?module=20&interval=10") == StreamQuery(20, 10.0)
    assert parse_query("/ws/power?module=1&interval=0.01") == StreamQuery(1, 0.01)
    for bad, reason in (("module=0", "module must be 1–20"), ("module=4.5", "whole number"),
                        ("interval=0.009", "0.01–10 s"), ("interval=inf", "0.01–10 s"),
                        ("interval=", "number of seconds"), ("module=1&module=2", "2 times"),
                        ("speed=1", "unknown parameter 'speed'")):
        with pytest.raises(ValueError, match=reason):
            parse_query(f"/ws/power?{bad}")
    assert path_of("/ws/power/?module=4") == "/ws/power"


def test_data_frame_has_the_seed_fields_and_no_nan() -> None:
    snap = snapshot_rows(4, (1, 2, 3), 1_700_000_000.25, (-3.5, math.nan, -80.0), (0, 3, 1))
    frame = data_frame(snap, link="Live")
    text = json.dumps(frame, allow_nan=False)  # valid JSON for every client
    assert frame["ch1_power"] == -3.5 and frame["ch2_power"] is None
    assert frame["ch4_power"] is None  # not acquired: the seed's field is still there
    assert frame["status"] == {"ch1": "ok", "ch2": "error", "ch3": "under"}
    assert '"timestamp": 1700000000.25' in text and frame["unit"] == "dBm"


def test_heartbeat_error_and_batch_frames() -> None:
    assert heartbeat_frame(0.0, 3) == {"type": "heartbeat",
                                       "timestamp": "1970-01-01T00:00:00.000+00:00",
                                       "active_streams": 3}
    error = error_frame("link Stale", 1.5, 2)
    assert error["recoverable"] is True and error["error_count"] == 2
    values = np.array([[-1.0, np.nan], [-2.0, -3.0]])
    frame = batch_frame(4, (1, 2), np.array([10.0, 10.001]), values,
                        np.array([[0, 3], [0, 0]], dtype=np.int8), link="Live")
    assert frame["power_dbm"] == [[-1.0, None], [-2.0, -3.0]]
    assert frame["status"] == [[0, 3], [0, 0]] and frame["timestamps"] == [10.0, 10.001]
    json.dumps(frame, allow_nan=False)


def test_serve_address() -> None:
    assert parse_serve_address("8002") == ("127.0.0.1", 8002)
    assert parse_serve_address("0.0.0.0:8002") == ("0.0.0.0", 8002)
    assert parse_serve_address("[::1]:0") == ("::1", 0)
    for bad in ("", "host:", "70000", "::1:80", "a:b"):
        with pytest.raises(ValueError, match="--serve"):
            parse_serve_address(bad)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")


def test_data_frames_carry_the_derived_channels_honestly() -> None:
    from ctp10_gui.models.derived import DerivedChannel

    derived = [DerivedChannel.parse("IL", "CH3 - CH1"), DerivedChannel.parse("sum", "CH1 + CH2"),
               DerivedChannel.parse("r", "CH1 / CH2"), DerivedChannel.parse("far", "CH5 - CH6")]
    snap = snapshot_rows(4, (1, 2, 3), 1_700_000_000.25, (-3.0, math.nan, -80.0), (0, 1, 1))
    frame = data_frame(snap, link="Live", derived=derived)
    json.dumps(frame, allow_nan=False)
    # CH3 under range: IL below what can be said; CH2 under range: the sum is CH1 alone, the
    # ratio above what can be said; CH5/CH6 are not acquired: no field at all.
    assert frame["derived"] == {"IL": None, "sum": pytest.approx(10 ** -0.3), "r": None}
    assert frame["derived_status"] == {"IL": "under", "sum": "ok", "r": "over"}
    assert "derived" not in data_frame(snap, link="Live")  # none defined: the seed's frame
