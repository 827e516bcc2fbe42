"""Reference procedures replayed against exact SCPI exchanges with a fake clock."""

from __future__ import annotations

from datetime import datetime

import pytest
from procedure_helpers import COND, OK, FakeClock

from ctp10_gui.hardware.errors import InstrumentError, LinkError, LinkFailure
from ctp10_gui.hardware.replay import expected_protocol
from ctp10_gui.procedures.reference import read_references, take_references
from ctp10_gui.procedures.sweep import SweepPlan

PLAN = SweepPlan(1520.0, 1580.0, 1.0, 0.0, ((1, 60.0),))  # 1 s per scan


def reference(module: int, channel: int, cond: list[str], result: str) -> list[
        tuple[str, str | None]]:
    init = f":REF:SENS{module}:CHAN{channel}:INIT"
    return [(init, None), OK, *[(COND, r) for r in cond],
            (f":REF:SENS{module}:CHAN{channel}:RES?", result)]


def test_each_channel_is_referenced_in_turn_with_progress_over_the_whole_run(
        clock: FakeClock) -> None:
    exchange = [
        *reference(4, 1, ["64", "64", "0"], "1,12,20261204,041500"),
        *reference(4, 3, ["64", "0"], "1,12,20261204,041502"),
    ]
    elapsed: list[float] = []
    with expected_protocol(exchange, clock=clock, sleep=clock.sleep) as ctp:
        run = take_references(ctp, PLAN, [(4, 1), (4, 3)], progress=elapsed.append,
                              cancelled=lambda: False)
    assert run.outcome == "completed"
    assert [(r.module, r.channel, r.result.state) for r in run.references] == [
        (4, 1, 1), (4, 3, 1)]
    assert run.references[1].result.taken == datetime(2026, 12, 4, 4, 15, 2)
    # The second channel's progress starts at one expected scan (1 s), not at zero.
    assert elapsed == pytest.approx([0.0, 0.1, 0.2, 1.0, 1.1])


def test_cancel_between_channels_keeps_the_references_taken(clock: FakeClock) -> None:
    answers = iter([False, False, False, True])  # 1st channel: 3 checks; then cancelled
    exchange = reference(4, 1, ["64", "0"], "1,12,20261204,041500")
    with expected_protocol(exchange, clock=clock, sleep=clock.sleep) as ctp:
        run = take_references(ctp, PLAN, [(4, 1), (4, 2)], progress=lambda _: None,
                              cancelled=lambda: next(answers))
    assert run.outcome == "aborted"
    assert [(r.module, r.channel) for r in run.references] == [(4, 1)]


def test_cancel_during_a_reference_aborts_it_and_reads_no_result(clock: FakeClock) -> None:
    answers = iter([False, False, True])
    exchange = [(":REF:SENS4:CHAN2:INIT", None), OK, (COND, "64"), (":ABOR", None), (COND, "16"),
                (COND, "0")]
    with expected_protocol(exchange, clock=clock, sleep=clock.sleep) as ctp:
        run = take_references(ctp, PLAN, [(4, 2)], progress=lambda _: None,
                              cancelled=lambda: next(answers))
    assert run.outcome == "aborted" and run.references == ()


def test_a_refused_reference_raises_and_stops_the_run(clock: FakeClock) -> None:
    exchange = [(":REF:SENS4:CHAN1:INIT", None), ("SYST:ERR?", '-200,"No detector"'), OK]
    with (
        expected_protocol(exchange, clock=clock, sleep=clock.sleep) as ctp,
        pytest.raises(InstrumentError, match="No detector"),
    ):
        take_references(ctp, PLAN, [(4, 1), (4, 2)], progress=lambda _: None,
                        cancelled=lambda: False)


def test_reading_references_asks_each_channel_once_in_order() -> None:
    exchange = [(":REF:SENS4:CHAN1:RES?", "0"), (":REF:SENS5:CHAN6:RES?", "1,13,20261201,090501")]
    with expected_protocol(exchange) as ctp:
        rows = read_references(ctp, [(4, 1), (5, 6)])
    assert [(r.module, r.channel, r.result.state, r.result.type) for r in rows] == [
        (4, 1, 0, 0), (5, 6, 1, 13)]
    assert rows[1].result.taken == datetime(2026, 12, 1, 9, 5, 1)


def test_garbled_reference_state_is_a_link_error() -> None:
    with (
        expected_protocol([(":REF:SENS4:CHAN1:RES?", "ok")]) as ctp,
        pytest.raises(LinkError) as caught,
    ):
        read_references(ctp, [(4, 1)])
    assert caught.value.kind is LinkFailure.GARBLED
