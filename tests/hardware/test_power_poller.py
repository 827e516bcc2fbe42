"""The power poller: replayed exchanges, a stream that answers twice, and a shared simulator."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from itertools import pairwise

import pytest

from ctp10_gui.hardware.ctp10 import CTP10
from ctp10_gui.hardware.errors import LinkError, LinkFailure, MissingHardwareError
from ctp10_gui.hardware.power import ChannelStatus, PowerRow
from ctp10_gui.hardware.power_poller import RESYNC_GAP_S, UNIT_CHECK_S
from ctp10_gui.hardware.replay import expected_protocol
from ctp10_gui.hardware.scpi import PowerUnit
from ctp10_gui.hardware.transport import VisaTransport
from ctp10_gui.simulator import SimulatorServer

IDN = ("*IDN?", "EXFO,CTP10,SN0042,1.2.3")
OK = ("SYST:ERR?", "0,No error")
CH4 = (1, 2, 3, 4)


def message(module: int, channels: tuple[int, ...], turn: int = 0) -> str:
    """Return the snapshot message: powers, then units; turn 1 asks the first unit again."""
    powers = [f":CTP:SENS{module}:CHAN{c}:POW?" for c in channels]
    units = [f":CTP:SENS{module}:CHAN{c}:UNIT:Y?" for c in channels]
    return ";".join(powers + units + units[:turn])


def answer(values: str, units: str, turn: int = 0) -> str:
    """Return the reply to message(): values and units ";"-separated, the first unit again."""
    first = units.split(";")[0]
    return ";".join([values, units, *[first] * turn])


# The watch queries of module 4, channels 1 and 2, with idle, default-looking replies.
WATCH_12 = [
    (":STAT:OPER:COND?", "0"),
    (":CTP:SENS4:CHAN1:WAV?", "1.55E-06"),
    (":CTP:SENS4:CHAN2:WAV?", "1.55E-06"),
    (":INIT:WAV:STAR?", "1.53E-06"),
    (":INIT:WAV:STOP?", "1.57E-06"),
    (":INIT:WAV:SAMP?", "1E-12"),
]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# -- replayed exchanges ---------------------------------------------------------------------------


def test_a_query_sent_ahead_is_read_first_and_parsed_after_the_next_one_went_out() -> None:
    exchange = [
        IDN,
        (message(4, CH4), answer("-1;-2;-3;-4", "0;0;0;0")),  # detection
        (message(4, CH4, 1), None),  # sent ahead, right after the first reply
        (None, answer("-5;x#;-7;-8", "0;0;0;0", 1)),
        (message(4, CH4), None),  # sent ahead again
        (None, answer("-9;-9;-9;-9", "0;0;0;0")),
    ]
    clock = FakeClock()
    with expected_protocol(exchange, connect=True, clock=clock, wall_clock=lambda: 9.0) as ctp:
        poller = ctp.power_poller(4, CH4)
        clock.now = 3.0
        first = poller.receive(send_next=True)
        assert poller.pending
        clock.now = 3.25  # the caller works while the instrument answers
        row = poller.receive(send_next=True)
        last = poller.receive()
        assert not poller.pending
    assert first.values_dbm == [-1, -2, -3, -4]
    assert (row.t_mono, row.t_wall, row.latency_s) == (3.25, 9.0, 0.25)
    assert row.values_dbm[::2] == [-5.0, -7.0] and math.isnan(row.values_dbm[1])
    assert row.status == (0, int(ChannelStatus.ERROR), 0, 0)
    assert row.errors == ("", "garbled reply 'x#'", "", "")
    assert last.values_dbm == [-9] * 4 and last.events == ()


def test_nothing_is_sent_ahead_without_compound_messages_and_units_are_reread() -> None:
    clock = FakeClock()
    units_12 = [(":CTP:SENS4:CHAN1:UNIT:Y?", "0"), (":CTP:SENS4:CHAN2:UNIT:Y?", "0")]
    powers_12 = [(":CTP:SENS4:CHAN1:POW?", "-1"), (":CTP:SENS4:CHAN2:POW?", "-2")]
    exchange = [
        IDN,
        (message(4, (1, 2)), "-1"),  # compound messages rejected
        IDN,
        ("SYST:ERR?", '-113,"Undefined header"'),
        OK,
        *units_12,
        *powers_12,
        *powers_12,  # units not due yet
        (":CTP:SENS4:CHAN1:UNIT:Y?", "MW"),  # due: channel 1 changed elsewhere
        (":CTP:SENS4:CHAN2:UNIT:Y?", "0"),
        *WATCH_12,  # due as well: one query each too
        (":CTP:SENS4:CHAN1:POW?", "0.5"),
        (":CTP:SENS4:CHAN2:POW?", "-2"),
    ]
    with expected_protocol(exchange, connect=True, clock=clock) as ctp:
        poller = ctp.power_poller(4, (1, 2))
        poller.receive(send_next=True)
        assert ctp.session.compound is False and not poller.pending
        poller.receive(send_next=True)
        assert not poller.pending
        clock.now = UNIT_CHECK_S
        row = poller.receive(send_next=True)
    assert row.units == (PowerUnit.MW, PowerUnit.DBM)
    assert row.values_dbm == [pytest.approx(10 * math.log10(0.5)), -2.0]
    assert [kind for kind, _ in row.events] == ["unit_changed"]
    assert row.condition == 0


@pytest.mark.parametrize(
    ("errors", "missing"),
    [
        (['-241,"Hardware missing"'], True),  # execution error: no such module
        (['-113,"Undefined header"'], False),  # command error: no compound messages
        (['-420,"Query UNTERMINATED"'], False),  # query error: no compound messages either
        ([], False),
    ],
)
def test_silence_to_the_first_message_names_missing_hardware_only_for_execution_errors(
    errors: list[str], missing: bool
) -> None:
    silence = LinkError("TCPIP::replay::5025::SOCKET", LinkFailure.TIMEOUT, "within 1 s")
    exchange = [
        IDN,
        (message(3, (1,)), silence),
        IDN,
        *[("SYST:ERR?", e) for e in errors],
        OK,
        *([] if missing else [(":CTP:SENS3:CHAN1:UNIT:Y?", "0"), (":CTP:SENS3:CHAN1:POW?", "-5")]),
    ]
    with expected_protocol(exchange, connect=True) as ctp:
        poller = ctp.power_poller(3, (1,))
        if missing:
            with pytest.raises(MissingHardwareError, match="-241"):
                poller.receive()
            assert ctp.session.compound is None
        else:
            assert poller.receive().values_dbm == [-5.0]
            assert ctp.session.compound is False


def test_a_unit_changed_elsewhere_converts_from_that_reply_on_and_is_said_once() -> None:
    exchange = [
        IDN,
        (message(4, (1, 2)), answer("-3;-6", "0;0")),
        (message(4, (1, 2), 1), answer("0.5;-6", "1;0", 1)),  # channel 1 now in mW
        (message(4, (1, 2)), answer("0.25;-6", "1;0")),
    ]
    with expected_protocol(exchange, connect=True) as ctp:
        poller = ctp.power_poller(4, (1, 2))
        rows = [poller.receive() for _ in range(3)]
    assert [r.units for r in rows] == [
        (PowerUnit.DBM, PowerUnit.DBM),
        (PowerUnit.MW, PowerUnit.DBM),
        (PowerUnit.MW, PowerUnit.DBM),
    ]
    assert rows[1].values_dbm == [pytest.approx(-3.0103, abs=1e-4), -6.0]
    assert rows[1].status == (0, 0)
    assert [r.events for r in rows[::2]] == [(), ()]
    ((kind, text),) = rows[1].events
    assert kind == "unit_changed"
    assert text.startswith("module 4 channel 1 replies in mW instead of dBm")
    assert ctp.session.power_units[(4, 1)] is PowerUnit.MW


def test_a_unit_set_through_the_driver_is_no_news() -> None:
    exchange = [
        IDN,
        (message(4, (1,)), answer("-3", "DBM")),
        (":CTP:SENS4:CHAN1:UNIT:Y MW", None),
        OK,
        (":CTP:SENS4:CHAN1:UNIT:Y?", "MW"),
        (message(4, (1,), 1), answer("0.5", "MW", 1)),
    ]
    with expected_protocol(exchange, connect=True) as ctp:
        poller = ctp.power_poller(4, (1,))
        poller.receive()
        ctp.detector(4, 1).power_unit = PowerUnit.MW
        row = poller.receive()
    assert row.units == (PowerUnit.MW,) and row.events == ()
    assert row.values_dbm == [pytest.approx(10 * math.log10(0.5))]


def test_a_unit_reply_naming_no_unit_makes_that_value_not_valid() -> None:
    exchange = [IDN, (message(4, (1, 2)), answer("-3;-6", "W;0"))]
    with expected_protocol(exchange, connect=True) as ctp:
        row = ctp.power_poller(4, (1, 2)).receive()
    assert math.isnan(row.values_dbm[0]) and row.values_dbm[1] == -6.0
    assert row.status == (int(ChannelStatus.ERROR), 0)
    assert row.errors == ("power unit not known", "")
    assert row.units == (None, PowerUnit.DBM)


def test_a_reply_read_one_step_late_is_dropped_and_asked_again_on_a_new_session() -> None:
    exchange = [
        IDN,
        (message(4, (1, 2)), answer("-1;-2", "0;0")),
        (message(4, (1, 2), 1), None),
        (None, answer("-1;-2", "0;0")),  # an extra reply to the previous message
        IDN,  # reopened: a new socket holds no stale reply
        (message(4, (1, 2), 1), answer("-3;-4", "0;0", 1)),
    ]
    with expected_protocol(exchange, connect=True) as ctp:
        poller = ctp.power_poller(4, (1, 2))
        poller.receive(send_next=True)
        row = poller.receive()
        assert ctp.transport.opens == 2  # type: ignore[attr-defined]
    assert row.values_dbm == [-3.0, -4.0] and row.status == (0, 0)
    ((kind, text),) = row.events
    assert kind == "resync" and text.startswith("garbled reply from replay:5025: 4 values")


def test_a_send_ahead_that_fails_keeps_the_reply_in_hand_and_fails_the_next_call() -> None:
    error = LinkError("TCPIP::replay::5025::SOCKET", LinkFailure.CLOSED, "before sending")
    exchange = [
        IDN,
        (message(4, (1,)), answer("-1", "0")),
        (message(4, (1,), 1), error),
    ]
    with expected_protocol(exchange, connect=True) as ctp:
        poller = ctp.power_poller(4, (1,))
        row = poller.receive(send_next=True)
        assert row.values_dbm == [-1.0] and poller.pending
        with pytest.raises(LinkError) as caught:
            poller.receive()
    assert caught.value is error and not poller.pending


# -- a stream that answers twice ------------------------------------------------------------------


class StreamTransport:
    """Answer like a CTP10 over a byte stream: replies queue up; open() starts a new socket.

    Power k (the k-th message answered) of channel c is -(k + c / 10) dBm, so a row tells
    which message its reply belongs to. answer_twice() makes the next reply come twice.
    """

    address = "TCPIP::stream::5025::SOCKET"
    io_timeout_s = 1.0

    def __init__(self) -> None:
        self.is_open = False
        self.replies: deque[str] = deque()
        self.answered = 0
        self.opens = 0
        self._twice = False
        self._always_twice = False

    def answer_twice(self, always: bool = False) -> None:
        self._twice = True
        self._always_twice = always

    def open(self) -> None:
        self.is_open = True
        self.opens += 1
        self.replies.clear()

    def close(self) -> None:
        self.is_open = False

    def write(self, command: str) -> None:
        assert self.is_open
        if command == "*IDN?":
            self.replies.append("EXFO,CTP10,SN1,1.0")
            return
        self.answered += 1
        parts = command.split(";")
        reply = ";".join(
            "0" if p.endswith("UNIT:Y?") else f"{-(self.answered + int(p[15]) / 10):.1f}"
            for p in parts
        )
        self.replies.append(reply)
        if self._twice:
            self._twice = self._always_twice
            self.replies.append(reply)

    def receive(self, command: str) -> str:
        return self.replies.popleft()

    def query(self, command: str) -> str:
        self.write(command)
        return self.receive(command)

    def query_block(self, command: str, timeout_s: float) -> bytes:
        raise AssertionError("no blocks here")


def test_an_extra_reply_in_the_stream_costs_one_resync_not_a_lasting_lag() -> None:
    stream = StreamTransport()
    ctp = CTP10(stream)
    ctp.connect()
    poller = ctp.power_poller(4, CH4)
    rows: list[PowerRow] = []
    backlog = []
    for k in range(40):
        if k == 10:
            stream.answer_twice()
        rows.append(poller.receive(send_next=True))
        backlog.append(len(stream.replies))
    # At most the reply in flight is buffered, but for the two reads it takes the extra reply
    # (sent at k = 10 with the reply to the query sent ahead) to come up and be caught.
    assert backlog[:10] == [1] * 10 and backlog[10:12] == [2, 2] and max(backlog[12:]) <= 1
    newest = [-(stream.answered - 1 + c / 10) for c in CH4]  # the query in flight is unread
    assert rows[-1].values_dbm == pytest.approx(newest)
    events = [kind for row in rows for kind, _ in row.events]
    assert events == ["resync"] and stream.opens == 2
    assert all(row.status == (0, 0, 0, 0) for row in rows)
    # Each row's reply is newer than the previous row's: nothing read twice, nothing late.
    firsts = [row.values_dbm[0] for row in rows]
    assert all(b < a for a, b in pairwise(firsts))


def test_an_instrument_that_keeps_answering_twice_is_a_broken_link_not_a_resync_storm() -> None:
    stream = StreamTransport()
    clock = FakeClock()
    ctp = CTP10(stream, clock=clock)
    ctp.connect()
    poller = ctp.power_poller(4, CH4)
    poller.receive(send_next=True)
    stream.answer_twice(always=True)
    rows = []
    with pytest.raises(LinkError) as caught:
        for _ in range(10):
            clock.now += 0.01
            rows.append(poller.receive(send_next=True))
    assert caught.value.kind is LinkFailure.GARBLED
    assert f"out of step again within {RESYNC_GAP_S:g} s" in str(caught.value)
    assert [kind for row in rows for kind, _ in row.events] == ["resync"]
    assert not stream.is_open


# -- a shared simulator over TCP ------------------------------------------------------------------


@pytest.mark.parametrize("unit_reply", ["number", "text"])
def test_a_unit_changed_by_a_second_client_is_converted_from_the_next_snapshot_on(
    sim_factory: Callable[..., SimulatorServer], unit_reply: str
) -> None:
    sim = sim_factory(max_clients=2, unit_reply=unit_reply, noise_db=0.0, drift=False,
                      unique_power=False)
    ours = CTP10(VisaTransport(sim.address))
    theirs = CTP10(VisaTransport(sim.address))
    ours.connect()
    theirs.connect()
    try:
        poller = ours.power_poller(4, CH4)
        rows = []
        for k in range(30):
            if k == 10:
                theirs.detector(4, 1).power_unit = PowerUnit.MW
            if k == 20:
                theirs.detector(4, 3).power_unit = "MW"
            truth = [sim.instrument.live_power_dbm(4, c) for c in CH4]
            row = poller.receive(send_next=k < 29)
            assert row.status == (0, 0, 0, 0)
            assert row.values_dbm == pytest.approx(truth, abs=1e-6)
            rows.append(row)
    finally:
        ours.close()
        theirs.close()
    assert rows[0].units == (PowerUnit.DBM,) * 4
    assert rows[-1].units == (PowerUnit.MW, PowerUnit.DBM, PowerUnit.MW, PowerUnit.DBM)
    said = [text for row in rows for kind, text in row.events if kind == "unit_changed"]
    assert [text.split(" replies")[0] for text in said] == [
        "module 4 channel 1", "module 4 channel 3"]


def test_a_second_client_changing_units_without_compound_messages_is_seen_at_the_next_check(
    sim_factory: Callable[..., SimulatorServer],
) -> None:
    sim = sim_factory(max_clients=2, compound=False, noise_db=0.0, drift=False,
                      unique_power=False)
    clock = FakeClock()
    ours = CTP10(VisaTransport(sim.address), clock=clock)
    theirs = CTP10(VisaTransport(sim.address))
    ours.connect()
    theirs.connect()
    try:
        poller = ours.power_poller(4, (1, 2))
        before = poller.receive()
        assert ours.session.compound is False and before.units == (PowerUnit.DBM,) * 2
        theirs.detector(4, 2).power_unit = PowerUnit.MW
        clock.now += UNIT_CHECK_S
        truth = [sim.instrument.live_power_dbm(4, c) for c in (1, 2)]
        row = poller.receive()
    finally:
        ours.close()
        theirs.close()
    assert row.units == (PowerUnit.DBM, PowerUnit.MW)
    assert row.values_dbm == pytest.approx(truth, abs=1e-6) and row.status == (0, 0)
    assert [kind for kind, _ in row.events] == ["unit_changed"]
