"""CTP10 driver behaviour, replayed against exact SCPI exchanges (no socket, no sleeping)."""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pytest

from ctp10_gui.hardware.ctp10 import Identity, PowerUnit, TraceType
from ctp10_gui.hardware.errors import (
    InstrumentError,
    LinkError,
    LinkFailure,
    MissingHardwareError,
    OperationTimeoutError,
    OutOfRangeError,
)
from ctp10_gui.hardware.power import ChannelStatus, parse_power
from ctp10_gui.hardware.replay import expected_protocol, ieee_block

ADDRESS = "TCPIP::replay::5025::SOCKET"
IDN = ("*IDN?", "EXFO,CTP10,SN0042,1.2.3")
OK = ("SYST:ERR?", "0,No error")


def units(module: int, channels: tuple[int, ...], reply: str = "0") -> list[tuple[str, str]]:
    return [(f":CTP:SENS{module}:CHAN{c}:UNIT:Y?", reply) for c in channels]


def compound(module: int, channels: tuple[int, ...], turn: int = 0) -> str:
    """Return the snapshot message: powers, then units; turn 1 asks the first unit again."""
    powers = [f":CTP:SENS{module}:CHAN{c}:POW?" for c in channels]
    unit_queries = [f":CTP:SENS{module}:CHAN{c}:UNIT:Y?" for c in channels]
    return ";".join(powers + unit_queries + unit_queries[:turn])


def answer(values: str, unit: str = "0", turn: int = 0) -> str:
    """Return the reply to compound(): the values, then one unit reply per channel (+ turn)."""
    count = len(values.split(";"))
    return ";".join([values, *[unit] * (count + turn)])


def single(module: int, channel: int) -> str:
    return f":CTP:SENS{module}:CHAN{channel}:POW?"


class FakeClock:
    """Monotonic time that only moves when the driver sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


# -- identity and connection ----------------------------------------------------------------------


def test_connect_probes_idn_and_parses_it_tolerantly() -> None:
    with expected_protocol([("*IDN?", " EXFO , CTP10 , SN0042 , 1.2.3 ")], connect=True) as ctp:
        assert ctp.identity == Identity(
            "EXFO", "CTP10", "SN0042", "1.2.3", "EXFO , CTP10 , SN0042 , 1.2.3"
        )
        assert ctp.transport.is_open


def test_model_containing_ctp10_in_any_case_is_accepted() -> None:
    with expected_protocol([("*IDN?", "exfo,ctp10-b,7,2.0")], connect=True) as ctp:
        assert ctp.identity is not None and ctp.identity.serial == "7"


@pytest.mark.parametrize("reply", ["Keysight Technologies,N7744A,MY1,1.0", "hello", ""])
def test_connect_to_something_else_is_wrong_instrument_and_closes(reply: str) -> None:
    with expected_protocol([("*IDN?", reply)]) as ctp:
        with pytest.raises(LinkError) as caught:
            ctp.connect()
        assert caught.value.kind is LinkFailure.WRONG_INSTRUMENT
        assert str(caught.value).startswith("replay:5025 is not an EXFO CTP10")
        assert not ctp.transport.is_open and ctp.identity is None


@pytest.mark.parametrize("kind", [LinkFailure.CLOSED, LinkFailure.RESET])
def test_connection_dropped_during_the_idn_probe_is_refused(kind: LinkFailure) -> None:
    with expected_protocol([("*IDN?", LinkError(ADDRESS, kind, "while sending '*IDN?'"))]) as ctp:
        with pytest.raises(LinkError) as caught:
            ctp.connect()
        assert caught.value.kind is LinkFailure.REFUSED
        assert str(caught.value).startswith("connection refused by replay:5025")


def test_silent_instrument_during_the_probe_stays_a_timeout() -> None:
    error = LinkError(ADDRESS, LinkFailure.TIMEOUT, "within 1 s to '*IDN?'")
    with expected_protocol([("*IDN?", error)]) as ctp, pytest.raises(LinkError) as caught:
        ctp.connect()
    assert caught.value is error
    assert str(error) == "no reply from replay:5025 within 1 s to '*IDN?'"


def test_probe_is_one_opc_round_trip() -> None:
    with expected_protocol([("*OPC?", "1")]) as ctp:
        ctp.probe()


# -- power snapshots ------------------------------------------------------------------------------

CH4 = (1, 2, 3, 4)


def test_snapshot_detects_compound_support_once_and_reads_units_with_every_snapshot() -> None:
    exchange = [
        IDN,
        (compound(4, CH4), answer("-10.5;-20.25;-30;-40.125")),
        # Second snapshot: one round trip again, the other message of the pair.
        (compound(4, CH4, turn=1), answer("-11;-21;-31;-41", turn=1)),
    ]
    clock = FakeClock()
    with expected_protocol(exchange, connect=True, clock=clock, wall_clock=lambda: 1e9) as ctp:
        first = ctp.snapshot(4, CH4)
        assert ctp.session.compound is True
        second = ctp.snapshot(4, [1, 2, 3, 4])
    np.testing.assert_array_equal(first.values_dbm, [-10.5, -20.25, -30.0, -40.125])
    np.testing.assert_array_equal(second.values_dbm, [-11, -21, -31, -41])
    assert second.status.dtype == np.int8 and list(second.status) == [ChannelStatus.OK] * 4
    assert second.errors == ("", "", "", "")
    assert second.units == (PowerUnit.DBM,) * 4
    assert (second.module, second.channels, second.t_wall) == (4, CH4, 1e9)


@pytest.mark.parametrize(
    "rejection",
    [
        "-10.5",  # answered the first part only
        LinkError(ADDRESS, LinkFailure.TIMEOUT, "within 1 s"),  # answered nothing
    ],
    ids=["one-value", "no-reply"],
)
def test_rejected_compound_query_resyncs_and_falls_back_for_the_connection(
    rejection: str | LinkError,
) -> None:
    exchange = [
        IDN,
        (compound(4, CH4), rejection),
        # A fresh session (no stale reply can be read) and a drained -113.
        IDN,
        ("SYST:ERR?", '-113,"Undefined header"'),
        OK,
        *units(4, CH4),
        *[(single(4, c), f"-{c}0.0") for c in CH4],
        # The units are read again only UNIT_CHECK_S later.
        *[(single(4, c), f"-{c}1.0") for c in CH4],
    ]
    with expected_protocol(exchange, connect=True) as ctp:
        first = ctp.snapshot(4, CH4)
        assert ctp.session.compound is False
        second = ctp.snapshot(4, CH4)
        assert ctp.transport.opens == 2  # type: ignore[attr-defined]
    np.testing.assert_array_equal(first.values_dbm, [-10, -20, -30, -40])
    np.testing.assert_array_equal(second.values_dbm, [-11, -21, -31, -41])


def test_another_instrument_after_the_fallback_reopen_is_refused() -> None:
    exchange = [
        IDN,
        (compound(4, (1, 2)), "-1"),
        ("*IDN?", "EXFO,CTP10,OTHER,1.2.3"),
    ]
    with expected_protocol(exchange, connect=True) as ctp, pytest.raises(LinkError) as caught:
        ctp.snapshot(4, (1, 2))
    assert caught.value.kind is LinkFailure.WRONG_INSTRUMENT


def test_link_failure_during_detection_is_not_mistaken_for_no_support() -> None:
    error = LinkError(ADDRESS, LinkFailure.RESET, "while sending")
    with expected_protocol([IDN, (compound(4, (1, 2)), error)], connect=True) as ctp:
        with pytest.raises(LinkError) as caught:
            ctp.snapshot(4, (1, 2))
        assert caught.value is error
        assert ctp.session.compound is None


def test_a_silent_empty_slot_is_named_not_taken_for_a_dead_link() -> None:
    exchange = [
        IDN,
        (compound(3, (1, 2)), LinkError(ADDRESS, LinkFailure.TIMEOUT, "within 1 s")),
        IDN,
        ("SYST:ERR?", '-241,"Hardware missing"'),
        ("SYST:ERR?", '-241,"Hardware missing"'),
        OK,
    ]
    with expected_protocol(exchange, connect=True) as ctp:
        with pytest.raises(MissingHardwareError, match="detector module 3 does not answer"):
            ctp.snapshot(3, (1, 2))
        assert ctp.session.compound is None  # nothing learned about compound messages


def test_a_reply_of_the_wrong_count_twice_in_a_row_is_a_desync() -> None:
    exchange = [
        IDN,
        (compound(4, (1, 2)), answer("-1;-2")),
        (compound(4, (1, 2), turn=1), answer("-1;-2")),  # one value short: another query's
        IDN,  # reopened: a new socket holds no stale reply
        (compound(4, (1, 2), turn=1), "-1"),
    ]
    with expected_protocol(exchange, connect=True) as ctp:
        ctp.snapshot(4, (1, 2))
        with pytest.raises(LinkError) as caught:
            ctp.snapshot(4, (1, 2))
        assert caught.value.kind is LinkFailure.GARBLED
        assert "out of step" in str(caught.value)
        assert not ctp.transport.is_open


def test_reconnect_forgets_compound_support_and_units() -> None:
    exchange = [
        IDN,
        (compound(1, (1, 2)), answer("-1;-2")),
        IDN,
        (compound(1, (1, 2)), answer("-1;-2", unit="MW")),
    ]
    with expected_protocol(exchange, connect=True) as ctp:
        ctp.snapshot(1, (1, 2))
        ctp.connect()
        assert ctp.session.compound is None and not ctp.session.power_units
        snap = ctp.snapshot(1, (1, 2))
    assert snap.units == (PowerUnit.MW,) * 2 and list(snap.status) == [ChannelStatus.UNDER] * 2


def test_one_channel_is_one_message_of_its_power_and_unit() -> None:
    with expected_protocol(
        [(compound(4, (3,)), "-7.25,DBM;DBM"), (compound(4, (3,), turn=1), "0.5;MW;MW")]
    ) as ctp:
        assert ctp.snapshot(4, (3,)).values_dbm[0] == -7.25
        assert ctp.session.compound is True
        assert ctp.snapshot(4, (3,)).values_dbm[0] == pytest.approx(10 * math.log10(0.5))


def test_each_channel_keeps_its_own_status() -> None:
    with expected_protocol(
        [IDN, (compound(4, CH4), answer("-12.5;x#;-200;9.9E37"))], connect=True
    ) as ctp:
        snap = ctp.snapshot(4, CH4)
    assert snap.values_dbm[0] == -12.5
    assert np.isnan(snap.values_dbm[1:]).all()
    assert list(snap.status) == [
        ChannelStatus.OK,
        ChannelStatus.ERROR,
        ChannelStatus.UNDER,
        ChannelStatus.OVER,
    ]
    assert snap.errors == ("", "garbled reply 'x#'", "", "")


@pytest.mark.parametrize(
    ("reply", "unit", "value", "status"),
    [
        ("-12.5", PowerUnit.DBM, -12.5, ChannelStatus.OK),
        (" -12.5 , DBM ", PowerUnit.DBM, -12.5, ChannelStatus.OK),
        ("+5.000E+00", PowerUnit.DBM, 5.0, ChannelStatus.OK),
        ("-200", PowerUnit.DBM, math.nan, ChannelStatus.UNDER),
        ("-9.9E37", PowerUnit.DBM, math.nan, ChannelStatus.UNDER),
        ("-INF", PowerUnit.DBM, math.nan, ChannelStatus.UNDER),
        ("NaN", PowerUnit.DBM, math.nan, ChannelStatus.UNDER),
        ("9.9E37", PowerUnit.DBM, math.nan, ChannelStatus.OVER),
        ("INF", PowerUnit.DBM, math.nan, ChannelStatus.OVER),
        ("+INF", PowerUnit.DBM, math.nan, ChannelStatus.OVER),
        ("0.5", PowerUnit.MW, 10 * math.log10(0.5), ChannelStatus.OK),
        ("1.0,MW", PowerUnit.DBM, 0.0, ChannelStatus.OK),
        ("-3.0,DBM", PowerUnit.MW, -3.0, ChannelStatus.OK),
        ("0", PowerUnit.MW, math.nan, ChannelStatus.UNDER),
        ("-1e-3", PowerUnit.MW, math.nan, ChannelStatus.UNDER),
        ("9.9E37", PowerUnit.MW, math.nan, ChannelStatus.OVER),
        ("x#", PowerUnit.DBM, math.nan, ChannelStatus.ERROR),
        ("", PowerUnit.DBM, math.nan, ChannelStatus.ERROR),
        ("-3.0,FOO", PowerUnit.DBM, math.nan, ChannelStatus.ERROR),
    ],
)
def test_power_reply_forms(
    reply: str, unit: PowerUnit, value: float, status: ChannelStatus
) -> None:
    got_value, got_status, error = parse_power(reply, unit)
    assert got_status is status
    assert (error != "") == (status is ChannelStatus.ERROR)
    if math.isnan(value):
        assert math.isnan(got_value)
    else:
        assert got_value == pytest.approx(value)


def test_milliwatt_channels_are_converted_to_dbm() -> None:
    exchange = [IDN, (compound(1, (1, 2)), answer("1.0;0.001", unit="MW"))]
    with expected_protocol(exchange, connect=True) as ctp:
        snap = ctp.snapshot(1, (1, 2))
    np.testing.assert_allclose(snap.values_dbm, [0.0, -30.0])
    assert snap.units == (PowerUnit.MW, PowerUnit.MW)


def test_snapshot_times_come_from_the_injected_clocks() -> None:
    ticks = iter([10.0, 10.004])
    with expected_protocol(
        [(compound(1, (1,)), answer("-1"))], clock=lambda: next(ticks), wall_clock=lambda: 5.0
    ) as ctp:
        snap = ctp.snapshot(1, (1,))
    assert (snap.t_mono, snap.t_wall) == (10.004, 5.0)
    assert snap.latency_s == pytest.approx(0.004)


# Every reply form the instrument or a look-alike may send, six channels at a time.
REPLY_FORMS = [
    ("-12.5", " -12.5 , DBM ", "+5.000E+00", "-200", "-9.9E37", "NaN"),
    ("9.9E37", "INF", "-INF", "x#", "", "1.0,MW"),
    ("-3.0,FOO", "-190", "-189.99", "  -7  ", "1e40", "0"),
]


@pytest.mark.parametrize("replies", REPLY_FORMS)
def test_snapshot_values_match_the_full_parser_for_every_reply_form(
    replies: tuple[str, ...],
) -> None:
    channels = (1, 2, 3, 4, 5, 6)
    exchange = [IDN, (compound(4, channels), answer(";".join(replies)))]
    with expected_protocol(exchange, connect=True) as ctp:
        snap = ctp.snapshot(4, channels)
    expected = [parse_power(reply, PowerUnit.DBM) for reply in replies]
    np.testing.assert_array_equal(snap.values_dbm, [v for v, _, _ in expected])  # NaN == NaN
    assert list(snap.status) == [s for _, s, _ in expected]
    assert snap.errors == tuple(e for _, _, e in expected)


def test_an_error_on_one_snapshot_does_not_stick_to_the_next() -> None:
    exchange = [
        IDN,
        (compound(4, (1, 2)), answer("-1;x#")),
        (compound(4, (1, 2), turn=1), answer("-1;-2", turn=1)),
    ]
    with expected_protocol(exchange, connect=True) as ctp:
        bad = ctp.snapshot(4, (1, 2))
        good = ctp.snapshot(4, (1, 2))
    assert bad.errors == ("", "garbled reply 'x#'")
    assert good.errors == ("", "") and list(good.status) == [ChannelStatus.OK] * 2


def test_repeated_snapshots_still_refuse_bad_arguments() -> None:
    exchange = [IDN, (compound(1, CH4), answer("-1;-2;-3;-4"))]
    with expected_protocol(exchange, connect=True) as ctp:
        ctp.snapshot(1, CH4)
        with pytest.raises(OutOfRangeError):
            ctp.snapshot(True, CH4)  # True == 1, but it is no module number
        with pytest.raises(OutOfRangeError):
            ctp.snapshot(21, CH4)
        with pytest.raises(OutOfRangeError):
            ctp.snapshot(4, (1, 7))
        with pytest.raises(OutOfRangeError):
            ctp.snapshot(4, ())


def test_a_channel_list_changed_between_snapshots_is_read_anew() -> None:
    exchange = [
        IDN,
        (compound(4, (1, 2)), answer("-1;-2")),
        (compound(4, (1, 3)), answer("-1;-3")),
    ]
    channels = [1, 2]
    with expected_protocol(exchange, connect=True) as ctp:
        first = ctp.snapshot(4, channels)
        channels[1] = 3
        second = ctp.snapshot(4, channels)
    assert (first.channels, second.channels) == ((1, 2), (1, 3))
    np.testing.assert_array_equal(second.values_dbm, [-1, -3])


# -- sweeps ---------------------------------------------------------------------------------------

COND = ":STAT:OPER:COND?"


def test_start_sweep_checks_for_errors_and_abort_is_one_write() -> None:
    exchange = [
        (":INIT", None),
        OK,
        (":ABOR", None),
        (":INIT", None),
        ("SYST:ERR?", "-221,Settings conflict"),
        OK,
    ]
    with expected_protocol(exchange) as ctp:
        ctp.start_sweep()
        ctp.abort()
        with pytest.raises(InstrumentError, match="-221"):
            ctp.start_sweep()


def test_wait_tolerates_a_scanning_bit_that_appears_late() -> None:
    clock = FakeClock()
    replies = ["0", "0", "0", "4", "4", "0"]
    elapsed: list[float] = []
    with expected_protocol([(COND, r) for r in replies], clock=clock, sleep=clock.sleep) as ctp:
        done = ctp.wait_until_idle(timeout_s=10, poll_s=0.25, appear_s=1.0, progress=elapsed.append)
    assert done is True
    assert elapsed == [0.0, 0.25, 0.5, 0.75, 1.0, 1.25]
    assert clock.sleeps == [0.25] * 5


def test_wait_treats_clear_as_done_once_the_appear_window_passed() -> None:
    clock = FakeClock()
    with expected_protocol([(COND, "0")] * 5, clock=clock, sleep=clock.sleep) as ctp:
        assert ctp.wait_until_idle(timeout_s=10, poll_s=0.25, appear_s=1.0)
    assert clock.now == 1.0


def test_wait_counts_referencing_as_busy() -> None:
    clock = FakeClock()
    with expected_protocol(
        [(COND, "64"), (COND, "64"), (COND, "0")], clock=clock, sleep=clock.sleep
    ) as ctp:
        assert ctp.wait_until_idle(timeout_s=10, poll_s=0.1, appear_s=5.0)


def test_wait_raises_at_the_deadline_without_oversleeping() -> None:
    clock = FakeClock()
    with (
        expected_protocol([(COND, "4")] * 4, clock=clock, sleep=clock.sleep) as ctp,
        pytest.raises(OperationTimeoutError, match=r"still busy after 0\.7 s"),
    ):
        ctp.wait_until_idle(timeout_s=0.7, poll_s=0.25)
    assert clock.sleeps == pytest.approx([0.25, 0.25, 0.2])


def test_wait_returns_false_when_cancelled_and_sends_nothing_more() -> None:
    clock = FakeClock()
    calls = iter([False, False, True])
    with expected_protocol([(COND, "4"), (COND, "4")], clock=clock, sleep=clock.sleep) as ctp:
        assert ctp.wait_until_idle(timeout_s=10, poll_s=0.1, cancelled=lambda: next(calls)) is False


def test_condition_register_reply_must_be_an_integer() -> None:
    with expected_protocol([(COND, "+4096"), (COND, "busy")]) as ctp:
        assert ctp.condition() == 4096
        with pytest.raises(LinkError) as caught:
            ctp.condition()
    assert caught.value.kind is LinkFailure.GARBLED


# -- referencing ----------------------------------------------------------------------------------


def test_start_reference_and_results() -> None:
    exchange = [
        (":REF:SENS4:CHAN2:INIT", None),
        OK,
        (":REF:SENS4:CHAN2:RES?", "0"),
        (":REF:SENS4:CHAN2:RES?", "1,12,20240131,235959"),
        (":REF:SENS4:CHAN2:RES?", ' 1 , 13 , "20240201" , "090501" '),
    ]
    with expected_protocol(exchange) as ctp:
        ctp.start_reference(4, 2)
        none = ctp.reference_result(4, 2)
        full = ctp.reference_result(4, 2)
        quoted = ctp.reference_result(4, 2)
    assert (none.state, none.type, none.taken, none.raw) == (0, 0, None, "0")
    assert (full.state, full.type, full.taken) == (1, 12, datetime(2024, 1, 31, 23, 59, 59))
    assert quoted.taken == datetime(2024, 2, 1, 9, 5, 1)


@pytest.mark.parametrize("reply", ["1,x", "1,1,2024,99", "ok"])
def test_unparseable_reference_result_is_garbled(reply: str) -> None:
    with (
        expected_protocol([(":REF:SENS1:CHAN1:RES?", reply)]) as ctp,
        pytest.raises(LinkError) as caught,
    ):
        ctp.reference_result(1, 1)
    assert caught.value.kind is LinkFailure.GARBLED


# -- traces ---------------------------------------------------------------------------------------

BASE = ":TRAC:SENS4:CHAN1:TYPE{t}:DATA"
# A value whose float32 bytes are all 0x0A (LF): parsing must not care about byte values.
Y = np.array([-3.5, -40.25, np.frombuffer(b"\x0a\x0a\x0a\x0a", ">f4")[0], 0.0, -80.0], dtype=">f4")


def trace_header(t: int, n: int = 5) -> list[tuple[str, str]]:
    base = BASE.format(t=t)
    return [
        (f"{base}:LENG?", str(n)),
        (f"{base}:STAR?", "1.50000000E-006"),
        (f"{base}:SAMP?", "1.0E-012"),
    ]


def test_trace_y_block_with_x_rebuilt_from_start_and_step() -> None:
    exchange = [*trace_header(1), (BASE.format(t=1) + "? BIN,DB", ieee_block(Y.tobytes()))]
    with expected_protocol(exchange) as ctp:
        trace = ctp.fetch_trace(4, 1, TraceType.TF_LIVE)
    assert trace.values.dtype == np.float64 and trace.wavelength_nm.dtype == np.float64
    np.testing.assert_array_equal(trace.values, Y.astype(np.float64))
    np.testing.assert_allclose(trace.wavelength_nm, 1500.0 + 0.001 * np.arange(5))
    assert (trace.start_nm, trace.step_pm, trace.unit, trace.trace_type) == (
        1500.0,
        1.0,
        "dB",
        TraceType.TF_LIVE,
    )


def test_trace_with_x_block_in_metres() -> None:
    x_m = (1500.0 + 0.001 * np.arange(5)) * 1e-9
    exchange = [
        *trace_header(11),
        (BASE.format(t=11) + "? BIN,DB", ieee_block(Y.tobytes(), trailer=b"")),
        (BASE.format(t=11) + ":X? BIN,M", ieee_block(x_m.astype(">f8").tobytes())),
    ]
    with expected_protocol(exchange) as ctp:
        trace = ctp.fetch_trace(4, 1, 11, with_x=True)
    np.testing.assert_allclose(trace.wavelength_nm, 1500.0 + 0.001 * np.arange(5))
    assert trace.unit == "dBm" and trace.trace_type is TraceType.RAW_LIVE


def test_trace_length_mismatch_is_garbled() -> None:
    exchange = [*trace_header(12, n=6), (BASE.format(t=12) + "? BIN,DB", ieee_block(Y.tobytes()))]
    with expected_protocol(exchange) as ctp:
        with pytest.raises(LinkError) as caught:
            ctp.fetch_trace(4, 1, TraceType.RAW_REFERENCE)
        assert caught.value.kind is LinkFailure.GARBLED and "expected 6 values" in str(caught.value)
        assert not ctp.transport.is_open


def test_empty_trace() -> None:
    exchange = [*trace_header(13, n=0), (BASE.format(t=13) + "? BIN,DB", ieee_block(b""))]
    with expected_protocol(exchange) as ctp:
        trace = ctp.fetch_trace(4, 1, TraceType.QUICK_REFERENCE)
    assert trace.values.size == 0 and trace.wavelength_nm.size == 0


# -- error queue ----------------------------------------------------------------------------------


def test_error_queue_drains_until_no_error() -> None:
    exchange = [
        ("SYST:ERR?", '-113,"Undefined header"'),
        ("SYST:ERR?", "-222,Data out of range"),
        ("SYST:ERR?", '+0,"No error"'),
    ]
    with expected_protocol(exchange) as ctp:
        assert ctp.error_queue() == [(-113, "Undefined header"), (-222, "Data out of range")]


def test_garbled_error_queue_reply_is_a_link_error() -> None:
    with expected_protocol([("SYST:ERR?", "what?")]) as ctp, pytest.raises(LinkError) as caught:
        ctp.error_queue()
    assert caught.value.kind is LinkFailure.GARBLED
