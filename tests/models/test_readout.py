"""Readout model (peak, Δ, age, range status, relative dB) and the display strings (no Qt)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ctp10_gui.hardware.power import ChannelStatus
from ctp10_gui.models.readout import (
    ChannelReading,
    ReadoutModel,
    dbm_to_mw,
    format_age,
    format_db,
    format_mw,
    format_power,
    mw_to_dbm,
    reference_key,
)
from ctp10_gui.models.samples import SnapshotBatch

OK, UNDER, OVER, ERROR = (int(s) for s in ChannelStatus)


def batch(
    rows: list[tuple[float, list[float], list[int]]],
    channels: tuple[int, ...] = (1, 2),
    module: int = 4,
) -> SnapshotBatch:
    """Build a batch from (t_mono, values, statuses) rows; wall time = t_mono + 1000 s."""
    t = np.array([r[0] for r in rows])
    status = np.array([r[2] for r in rows], dtype=np.int8)
    values = np.where(status == OK, np.array([r[1] for r in rows], dtype=float), np.nan)
    return SnapshotBatch(module, channels, t, t + 1000.0, values, status)


# --------------------------------------------------------------------------- model


def test_latest_value_peak_hold_and_delta_to_peak() -> None:
    m = ReadoutModel([1, 2])
    m.apply(
        batch(
            [
                (1.0, [-20.0, -30.0], [OK, OK]),
                (1.1, [-5.0, -31.0], [OK, OK]),
                (1.2, [-7.5, -29.0], [OK, OK]),
            ]
        )
    )
    r1 = m.reading(1)
    assert r1.value_dbm == -7.5 and r1.status == ChannelStatus.OK
    assert r1.peak_dbm == -5.0 and r1.peak_t_wall == 1001.1
    assert r1.delta_to_peak_db() == pytest.approx(-2.5)
    assert m.reading(2).peak_dbm == -29.0 and m.reading(2).delta_to_peak_db() == 0.0
    m.apply(batch([(2.0, [-6.0, -40.0], [OK, OK])]))  # lower than the peak: the peak holds
    assert m.reading(1).peak_dbm == -5.0 and m.reading(1).peak_t_wall == 1001.1
    m.apply(batch([(3.0, [-5.0, -40.0], [OK, OK])]))  # equal: the first time is kept
    assert m.reading(1).peak_t_wall == 1001.1


def test_reset_peak_of_one_channel_or_all() -> None:
    m = ReadoutModel([1, 2], peak_average_s=0.0)  # every sample its own average
    m.apply(batch([(1.0, [-3.0, -4.0], [OK, OK]), (1.1, [-9.0, -9.0], [OK, OK])]))
    m.reset_peak(1)
    assert math.isnan(m.reading(1).peak_dbm) and m.reading(1).peak_t_wall is None
    assert m.reading(1).delta_to_peak_db() is None
    assert m.reading(2).peak_dbm == -4.0
    m.apply(batch([(2.0, [-8.0, -8.0], [OK, OK])]))
    assert m.reading(1).peak_dbm == -8.0  # a new peak after the reset
    m.reset_peak()
    assert all(math.isnan(r.peak_dbm) for r in m.readings())
    with pytest.raises(KeyError, match="channel 5"):
        m.reset_peak(5)


def test_under_and_over_range_keep_status_with_nan_value_and_do_not_touch_the_peak() -> None:
    m = ReadoutModel([1, 2], peak_average_s=0.0)
    m.apply(batch([(1.0, [-10.0, -10.0], [OK, OK]), (2.0, [0.0, 0.0], [UNDER, OVER])]))
    r1, r2 = m.reading(1), m.reading(2)
    assert r1.status == ChannelStatus.UNDER and math.isnan(r1.value_dbm)
    assert r2.status == ChannelStatus.OVER and math.isnan(r2.value_dbm)
    assert r1.peak_dbm == -10.0 and r1.delta_to_peak_db() is None
    assert r1.last_good_t == 2.0  # an under-range reply is a good reply: the link works


def test_the_peak_is_that_of_the_moving_average_and_the_raw_maximum_is_kept() -> None:
    m = ReadoutModel([1, 2])  # 50 ms average by default
    t = 1.0 + np.arange(200) / 1000.0  # 200 ms at 1 kHz
    v = np.full((200, 2), -10.0)
    v[120, 0] = -4.0  # one noise spike on channel 1
    v[100:, 1] = -6.0  # a real 100 ms improvement on channel 2
    st = np.zeros((200, 2), dtype=np.int8)
    m.apply(SnapshotBatch(4, (1, 2), t, t + 1000.0, v, st))
    r1, r2 = m.reading(1), m.reading(2)
    assert r1.raw_max_dbm == -4.0
    assert r1.peak_dbm == pytest.approx(-10.0 + 10 * np.log10(54 / 51), abs=0.01)  # not −4
    assert r1.delta_to_peak_db() == pytest.approx(-10 * np.log10(54 / 51), abs=0.01)
    assert r2.peak_dbm == pytest.approx(-6.0)
    # Reached when the 50 ms window first holds only the improvement.
    assert r2.peak_t_mono == pytest.approx(1.15, abs=0.0015)
    assert r2.peak_t_wall == pytest.approx(r2.peak_t_mono + 1000.0)
    m.set_peak_average(0.0)  # every sample its own average: the spike would count
    m.apply(batch([(2.0, [-4.5, -6.0], [OK, OK])]))
    assert m.reading(1).peak_dbm == -4.5
    with pytest.raises(ValueError):
        m.set_peak_average(-1.0)


def test_age_counts_from_the_last_reply_that_was_not_an_error() -> None:
    m = ReadoutModel([1, 2])
    assert m.reading(1).age_s(5.0) is None and m.reading(1).status is None
    m.apply(batch([(10.0, [-1.0, -2.0], [OK, OK]), (10.5, [0.0, -2.0], [ERROR, OK])]))
    assert m.reading(1).status == ChannelStatus.ERROR
    assert m.reading(1).age_s(11.8) == pytest.approx(1.8)  # from t = 10.0
    assert m.reading(2).age_s(11.8) == pytest.approx(1.3)  # from t = 10.5


def test_relative_db_against_per_channel_reference() -> None:
    m = ReadoutModel([1, 2])
    assert m.set_reference(1) is None  # nothing to take yet
    m.apply(batch([(1.0, [-12.0, -30.0], [OK, UNDER])]))
    assert m.set_reference(1) == -12.0
    assert m.set_reference(2) is None  # under range: no value to use
    m.apply(batch([(2.0, [-10.5, -30.0], [OK, OK])]))
    assert m.reading(1).relative_db() == pytest.approx(1.5)
    assert m.reading(2).relative_db() is None
    assert m.references == {1: -12.0}
    m.clear_reference(1)
    assert m.reading(1).relative_db() is None and m.references == {}


def test_load_references_replaces_all_and_skips_non_finite() -> None:
    m = ReadoutModel([1, 2, 3])
    m.apply(batch([(1.0, [-1.0, -2.0, -3.0], [OK, OK, OK])], channels=(1, 2, 3)))
    m.load_references({1: -2.0, 2: float("nan"), 3: -4.0})
    assert m.references == {1: -2.0, 3: -4.0}
    assert m.reading(1).relative_db() == 1.0 and m.reading(2).reference_dbm is None
    m.load_references({})
    assert m.reading(1).reference_dbm is None


def test_channels_change_keeps_kept_channels_and_a_new_module_starts_afresh() -> None:
    m = ReadoutModel([1, 2], module=4, peak_average_s=0.0)
    m.apply(batch([(1.0, [-1.0, -2.0], [OK, OK])]))
    m.set_reference(1)
    m.set_channels([1, 3])
    assert m.channels == (1, 3)
    assert m.reading(1).peak_dbm == -1.0 and m.reading(1).reference_dbm == -1.0
    assert m.reading(3).status is None
    with pytest.raises(KeyError):
        m.reading(2)
    m.apply(batch([(2.0, [-9.0, -9.0], [OK, OK])], channels=(1, 3), module=5))
    r = m.reading(1)
    assert m.module == 5 and r.peak_dbm == -9.0 and r.reference_dbm is None


def test_readings_belong_to_address_serial_and_module_and_each_change_says_why() -> None:
    resets: list[str] = []
    m = ReadoutModel([1, 2], module=4, on_reset=resets.append, peak_average_s=0.0)
    m.set_instrument("TCPIP::a::5025::SOCKET", None)
    m.apply(batch([(1.0, [-3.0, -4.0], [OK, OK])]))
    m.set_instrument("TCPIP::a::5025::SOCKET", "SN-1")  # the serial first read: nothing lost
    assert resets == [] and m.reading(1).peak_dbm == -3.0
    m.set_instrument("TCPIP::a::5025::SOCKET", None)  # identity cleared by a disconnect: kept
    assert resets == [] and m.reading(1).peak_dbm == -3.0 and m.serial == "SN-1"

    m.set_instrument("TCPIP::a::5025::SOCKET", "SN-2")  # another instrument at that address
    assert resets == ["a different instrument answers (serial SN-2, was SN-1)"]
    assert m.reading(1).status is None and math.isnan(m.reading(1).peak_dbm)

    m.apply(batch([(2.0, [-5.0, -6.0], [OK, OK])]))
    m.set_instrument("TCPIP::b::5025::SOCKET", None)  # another address: its serial unknown
    assert resets[-1] == "connected to another address (TCPIP::b::5025::SOCKET)"
    assert m.serial is None and m.reading(2).delta_to_peak_db() is None
    m.set_instrument("TCPIP::b::5025::SOCKET", "SN-1")  # nothing had been read there yet
    assert len(resets) == 2

    m.apply(batch([(3.0, [-7.0, -8.0], [OK, OK])]))
    m.set_channels([1, 2], module=3)
    assert resets[-1] == "module 4 → 3" and math.isnan(m.reading(1).peak_dbm)
    m.apply(batch([(4.0, [-1.0, -2.0], [OK, OK])], module=3))
    m.apply(batch([(5.0, [-1.0, -2.0], [OK, OK])], module=4))  # a batch of another module
    assert resets[-1] == "module 3 → 4" and m.reading(1).peak_t_wall == 1005.0
    assert len(resets) == 4


def test_a_change_before_any_reading_forgets_nothing_and_says_nothing() -> None:
    resets: list[str] = []
    m = ReadoutModel([1], module=4, on_reset=resets.append)
    m.set_instrument("TCPIP::a::5025::SOCKET", "SN-1")
    m.set_instrument("TCPIP::b::5025::SOCKET", "SN-2")
    m.set_channels([1], module=5)
    assert resets == []


def test_reading_returns_a_copy() -> None:
    m = ReadoutModel([1])
    r = m.reading(1)
    r.peak_dbm = 99.0
    assert math.isnan(m.reading(1).peak_dbm)
    assert isinstance(r, ChannelReading)


# --------------------------------------------------------------------------- formatting


@pytest.mark.parametrize(
    ("value", "unit", "status", "text"),
    [
        (-12.344, "dBm", OK, "−12.34 dBm"),
        (3.5, "dBm", OK, "3.50 dBm"),
        (-0.001, "dBm", OK, "0.00 dBm"),
        (-12.34, "mW", OK, "58.34 µW"),
        (0.0, "mW", OK, "1.000 mW"),
        (-0.0001, "mW", OK, "1.000 mW"),  # 0.99998 mW rounds up: not "1000.0 µW"
        (-60.0, "mW", OK, "1.000 nW"),
        (-75.0, "mW", OK, "31.62 pW"),
        (6.0, "mW", OK, "3.981 mW"),
        (-20.0, "mW", OK, "10.00 µW"),
        (-36.0, "mW", OK, "251.2 nW"),
        (float("nan"), "dBm", UNDER, "< −80.00 dBm"),
        (float("nan"), "mW", UNDER, "< 10.00 pW"),
        (float("nan"), "dBm", OVER, "≥ 10.00 dBm"),
        (float("nan"), "mW", OVER, "≥ 10.00 mW"),
        (float("nan"), "dBm", ERROR, "error"),
        (float("nan"), "dBm", OK, "— —"),
        (-12.0, "dBm", None, "— —"),
    ],
)
def test_format_power(value: float, unit: str, status: int | None, text: str) -> None:
    assert format_power(value, unit, status) == text  # type: ignore[arg-type]


def test_format_power_uses_the_given_detector_limits() -> None:
    assert format_power(math.nan, "dBm", UNDER, floor_dbm=-65.0) == "< −65.00 dBm"
    assert format_power(math.nan, "dBm", OVER, max_dbm=7.5) == "≥ 7.50 dBm"


def test_format_mw_db_and_age() -> None:
    assert format_mw(0.0583) == "58.30 µW"
    assert format_mw(1500.0) == "1.500 W"
    assert format_mw(0.0099996) == "10.00 µW"  # still 4 digits after rounding up a decade
    assert format_mw(0.099996) == "100.0 µW"
    assert format_mw(0.0) == "0 mW"
    assert format_db(-0.456) == "−0.46 dB"
    assert format_db(1.234) == "+1.23 dB"
    assert format_db(0.0) == "0.00 dB"
    assert format_db(None) == "— —"
    assert format_db(2.0, signed=False) == "2.00 dB"
    assert format_age(1.84) == "1.8 s old"
    assert format_age(42.7) == "42 s old"
    assert format_age(150.0) == "2 min old"
    assert format_age(7300.0) == "2 h old"
    assert format_age(-0.2) == "0.0 s old"
    assert format_age(None) == ""


def test_reference_key_is_stable_to_a_thousandth_of_a_nanometre() -> None:
    key = reference_key("CTP10-0042", 4, 2, 1550.12345)
    assert key == "CTP10-0042/M4/C2/1550.123nm"
    assert reference_key(" CTP10-0042 ", 4, 2, 1550.1234999) == key
    assert reference_key("CTP10-0042", 4, 2, 1550.124) != key
    assert reference_key("CTP10-0042", 4, 3, 1550.123) != key


def test_dbm_mw_conversions() -> None:
    assert dbm_to_mw(0.0) == 1.0
    assert dbm_to_mw(-30.0) == pytest.approx(1e-3)
    assert dbm_to_mw(-math.inf) == 0.0
    assert mw_to_dbm(10.0) == pytest.approx(10.0)
    assert mw_to_dbm(0.0) == -math.inf and mw_to_dbm(-1e-6) == -math.inf
    assert math.isnan(mw_to_dbm(math.nan)) and math.isnan(dbm_to_mw(math.nan))
    arr = mw_to_dbm(np.array([1.0, 0.0, 0.001]))
    np.testing.assert_allclose(arr, [0.0, -np.inf, -30.0])
    assert isinstance(mw_to_dbm(1.0), float)
