"""Sweep procedures replayed against exact SCPI exchanges with a fake clock."""

from __future__ import annotations

import pytest
from procedure_helpers import COND, OK, FakeClock

from ctp10_gui.hardware.errors import (
    InstrumentError,
    LinkError,
    LinkFailure,
    OperationTimeoutError,
)
from ctp10_gui.hardware.replay import expected_protocol
from ctp10_gui.procedures.sweep import (
    TIMEOUT_MARGIN_S,
    LaserSpan,
    SweepPlan,
    any_cancelled,
    deadline_s,
    plan_sweep,
    run_sweep,
)


def test_plan_sums_overlap_over_speed_of_every_covering_laser() -> None:
    plan = plan_sweep(1520.0, 1580.0, 2.5, [
        LaserSpan(1, 20.0, 1500.0, 1550.0),  # covers 1520–1550: 30 nm at 20 nm/s
        LaserSpan(3, 50.0, 1550.0, 1630.0),  # covers 1550–1580: 30 nm at 50 nm/s
        LaserSpan(4, 100.0, 1600.0, 1650.0),  # assigned, outside the range
    ])
    assert plan.start_nm == pytest.approx(1520.0) and plan.stop_nm == pytest.approx(1580.0)
    assert plan.scan_s == pytest.approx(30 / 20 + 30 / 50)
    assert plan.stabilization_s == 2.5
    assert plan.lasers == ((1, 20.0), (3, 50.0))
    assert plan.expected_s == pytest.approx(2.1 + 2.5)
    assert plan.describe() == (
        "60 nm at TLS 1 20 nm/s, TLS 3 50 nm/s ≈ 2.1 s + 2.5 s stabilization")


def test_plan_without_a_covering_laser_uses_the_first_assigned_speed() -> None:
    plan = plan_sweep(1520.0, 1580.0, 0.0, [
        LaserSpan(2, 0.0, 1500.0, 1600.0),  # a speed of 0 is no laser to sweep with
        LaserSpan(3, 40.0, 1600.0, 1650.0),
    ])
    assert plan.lasers == ((3, 40.0),)
    assert plan.scan_s == pytest.approx(60 / 40)


def test_plan_with_no_laser_at_all_assumes_the_default_speed() -> None:
    plan = plan_sweep(1520.0, 1580.0, 0.0, [])
    assert plan.lasers == () and plan.scan_s == pytest.approx(60 / 20)
    assert "no laser known" in plan.describe()


PLAN = SweepPlan(1520.0, 1580.0, 0.2, 0.0, ((1, 20.0),))


def test_sweep_starts_polls_until_idle_and_reports_elapsed(clock: FakeClock) -> None:
    exchange = [(":INIT", None), OK, (COND, "4"), (COND, "4"), (COND, "0")]
    elapsed: list[float] = []
    with expected_protocol(exchange, clock=clock, sleep=clock.sleep) as ctp:
        outcome = run_sweep(ctp, PLAN, progress=elapsed.append, cancelled=lambda: False)
    assert outcome == "completed"
    assert elapsed == pytest.approx([0.0, 0.0, 0.1, 0.2])
    assert clock.sleeps == pytest.approx([0.1, 0.1])


def test_sweep_cancelled_before_it_started_sends_nothing(clock: FakeClock) -> None:
    elapsed: list[float] = []
    with expected_protocol([], clock=clock, sleep=clock.sleep) as ctp:
        assert run_sweep(ctp, PLAN, progress=elapsed.append, cancelled=lambda: True) == "aborted"
    assert elapsed == [0.0]


def test_sweep_cancelled_while_scanning_sends_abort_and_waits_for_idle(clock: FakeClock) -> None:
    answers = iter([False, False, False, True])  # the 4th check: before the 3rd poll
    exchange = [(":INIT", None), OK, (COND, "4"), (COND, "4"), (":ABOR", None), (COND, "16"),
                (COND, "0")]
    with expected_protocol(exchange, clock=clock, sleep=clock.sleep) as ctp:
        outcome = run_sweep(ctp, PLAN, progress=lambda _: None, cancelled=lambda: next(answers))
    assert outcome == "aborted"


def test_refused_sweep_raises_the_instrument_error_and_polls_nothing(clock: FakeClock) -> None:
    exchange = [(":INIT", None), ("SYST:ERR?", '-221,"Settings conflict"'), OK]
    with (
        expected_protocol(exchange, clock=clock, sleep=clock.sleep) as ctp,
        pytest.raises(InstrumentError, match="-221"),
    ):
        run_sweep(ctp, PLAN, progress=lambda _: None, cancelled=lambda: False)


def test_sweep_still_busy_after_its_deadline_times_out(clock: FakeClock) -> None:
    plan = SweepPlan(1520.0, 1580.0, 0.0, 0.0, ())
    polls = int(deadline_s(0.0) / 0.1) + 1
    assert deadline_s(0.0) == TIMEOUT_MARGIN_S
    exchange = [(":INIT", None), OK, *[(COND, "4")] * polls]
    with (
        expected_protocol(exchange, clock=clock, sleep=clock.sleep) as ctp,
        pytest.raises(OperationTimeoutError, match="still busy after 60 s"),
    ):
        run_sweep(ctp, plan, progress=lambda _: None, cancelled=lambda: False)
    assert clock.now == pytest.approx(60.0)


def test_link_lost_while_polling_ends_the_sweep_with_the_link_error(clock: FakeClock) -> None:
    lost = LinkError("TCPIP::replay::5025::SOCKET", LinkFailure.CLOSED, "while reading")
    exchange = [(":INIT", None), OK, (COND, "4"), (COND, lost)]
    with (
        expected_protocol(exchange, clock=clock, sleep=clock.sleep) as ctp,
        pytest.raises(LinkError) as caught,
    ):
        run_sweep(ctp, PLAN, progress=lambda _: None, cancelled=lambda: False)
    assert caught.value is lost


def test_any_cancelled_follows_each_of_its_checks() -> None:
    abort, shutdown = [False], [False]
    cancelled = any_cancelled(lambda: abort[0], lambda: shutdown[0])
    assert not cancelled()
    shutdown[0] = True
    assert cancelled()
    shutdown[0], abort[0] = False, True
    assert cancelled()
