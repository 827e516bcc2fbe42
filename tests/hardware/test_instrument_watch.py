"""The watch queries riding in the snapshot message: condition register and changed settings."""

from __future__ import annotations

import pytest

from ctp10_gui.hardware.errors import LinkError, LinkFailure
from ctp10_gui.hardware.instrument_watch import (
    CHANGED_ELSEWHERE_EVENT,
    WATCH_INTERVAL_S,
    WATCH_OFF_EVENT,
    InstrumentWatch,
)
from ctp10_gui.hardware.replay import expected_protocol

CH = (1, 2)
POWERS = ":CTP:SENS4:CHAN1:POW?;:CTP:SENS4:CHAN2:POW?"
UNITS = ":CTP:SENS4:CHAN1:UNIT:Y?;:CTP:SENS4:CHAN2:UNIT:Y?"
PLAIN = f"{POWERS};{UNITS}"
EXTRA = f"{PLAIN};:CTP:SENS4:CHAN1:UNIT:Y?"
WATCH = (":STAT:OPER:COND?;:CTP:SENS4:CHAN1:WAV?;:CTP:SENS4:CHAN2:WAV?;:INIT:WAV:STAR?;"
         ":INIT:WAV:STOP?;:INIT:WAV:SAMP?")
WATCHED = f"{PLAIN};{WATCH};:CTP:SENS4:CHAN1:UNIT:Y?"


def watched(condition: int, wl1_nm: float, start_nm: float) -> str:
    """Return a reply to WATCHED: powers, units, the watch replies (in SI), the extra unit."""
    return (f"-1;-2;0;0;{condition};{wl1_nm * 1e-9:.6E};1.550000E-06;{start_nm * 1e-9:.6E};"
            "1.570000E-06;1.000000E-12;0")


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_watch_rides_in_every_other_message_at_its_interval_and_names_changes() -> None:
    exchange = [
        (PLAIN, "-1;-2;0;0"),  # compound detection
        (EXTRA, "-1;-2;0;0;0"),  # the watch clock starts here
        (PLAIN, "-1;-2;0;0"),
        (WATCHED, watched(0, 1310.0, 1540.0)),  # the first reading: the baseline
        (PLAIN, "-1;-2;0;0"),
        (WATCHED, watched(4, 1310.0, 1540.0)),  # a sweep elsewhere, nothing changed
        (PLAIN, "-1;-2;0;0"),
        (WATCHED, watched(0, 1550.0, 1530.0)),  # *RST elsewhere: two settings at once
        (PLAIN, "-1;-2;0;0"),
        (WATCHED, watched(0, 1500.0, 1530.0)),  # changed by this app (forget_watched)
        (PLAIN, "-1;-2;0;0"),
        (WATCHED, watched(0, 1490.0, 1530.0)),
    ]
    clock = FakeClock()
    rows = []
    with expected_protocol(exchange, connect=False, clock=clock) as ctp:
        poller = ctp.power_poller(4, CH)
        for i in range(len(exchange)):
            if i == 9:
                poller.forget_watched()
            clock.now = i * WATCH_INTERVAL_S / 2
            rows.append(poller.receive())
    assert [r.condition for r in rows] == [None, None, None, 0, None, 4, None, 0, None, 0,
                                           None, 0]
    events = {i: r.events for i, r in enumerate(rows) if r.events}
    assert list(events) == [7, 11]
    ((kind, text),) = events[7]
    assert kind == CHANGED_ELSEWHERE_EVENT
    assert text == ("replay:5025: changed on the instrument by another client: module 4 channel 1 "
                    "calibration wavelength 1550 nm (was 1310 nm); scan start 1530 nm (was "
                    "1540 nm) (several at once: a reset, *RST?)")
    assert events[11][0][1].endswith("calibration wavelength 1490 nm (was 1500 nm)")
    assert all(r.values_dbm == [-1.0, -2.0] for r in rows)


def test_an_unreadable_watch_reply_is_no_change_and_no_register() -> None:
    watch = InstrumentWatch(4, CH)
    assert watch.read(["0", "1.31E-06", "1.55E-06", "1.53E-06", "1.57E-06", "1E-12"]) == (0, "")
    assert watch.read(["x", "9.9E37", "1.55E-06", "1.53E-06", "1.57E-06", "1E-12"]) == (None, "")
    # Back from "no value" is no change either: only two readings of a value are compared.
    assert watch.read(["4", "1.31E-06", "1.55E-06", "1.53E-06", "1.57E-06", "1E-12"]) == (4, "")


IDN = ("*IDN?", "EXFO,CTP10,SN0042,1.2.3")
OK = ("SYST:ERR?", "0,No error")
SHORT = "-1;-2;0;0;0;1.31E-06"  # an instrument that stops at a query it does not know


def _refused(answer: object, *, errors: list[str]) -> list:
    """Return the exchange up to the first watch message, answered with `answer`."""
    return [
        IDN,
        (PLAIN, "-1;-2;0;0"),
        (EXTRA, "-1;-2;0;0;0"),
        (PLAIN, "-1;-2;0;0"),
        (WATCHED, answer),
        # Fewer values: reopened and asked again (a resync), the same answer again.
        *([IDN, (WATCHED, answer)] if isinstance(answer, str) else []),
        IDN,  # reopened to drain the error the instrument queued
        *[("SYST:ERR?", e) for e in errors],
        OK,
    ]


@pytest.mark.parametrize("answer", [SHORT, "silence"], ids=["fewer values", "no reply"])
def test_an_instrument_refusing_a_watch_query_is_polled_on_without_the_watch(answer: str) -> None:
    silence = LinkError("TCPIP::replay::5025::SOCKET", LinkFailure.TIMEOUT, "within 1 s")
    reply: object = silence if answer == "silence" else answer
    exchange = [
        *_refused(reply, errors=['-113,"Undefined header"']),
        (EXTRA, "-1;-2;0;0;0"),  # this snapshot, without the watch
        (PLAIN, "-1;-2;0;0"),
        (EXTRA, "-1;-2;0;0;0"),  # the interval has passed: still without the watch
        (PLAIN, "-1;-2;0;0"),
    ]
    clock = FakeClock()
    rows = []
    with expected_protocol(exchange, connect=True, clock=clock) as ctp:
        poller = ctp.power_poller(4, CH)
        for i in range(7):
            clock.now = i * WATCH_INTERVAL_S / 2
            rows.append(poller.receive())
    assert all(r.values_dbm == [-1.0, -2.0] for r in rows)
    ((kind, text),) = rows[3].events
    assert kind == WATCH_OFF_EVENT
    assert text.startswith("replay:5025 does not answer the queries watching for changes")
    assert text.endswith("; it reports -113 Undefined header); changes made elsewhere are not "
                         "seen on this connection")


def test_silence_to_a_watch_message_with_no_error_queued_is_a_dead_link() -> None:
    silence = LinkError("TCPIP::replay::5025::SOCKET", LinkFailure.TIMEOUT, "within 1 s")
    clock = FakeClock()
    with expected_protocol(_refused(silence, errors=[]), connect=True, clock=clock) as ctp:
        poller = ctp.power_poller(4, CH)
        for i in range(3):
            clock.now = i * WATCH_INTERVAL_S / 2
            poller.receive()
        clock.now = 3 * WATCH_INTERVAL_S / 2
        with pytest.raises(LinkError) as raised:
            poller.receive()
    assert raised.value is silence
