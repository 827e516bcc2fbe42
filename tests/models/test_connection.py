"""The connection state machine: every table row, backoff, attempts, interruptions, log lines."""

from __future__ import annotations

import logging
import random

import pytest

from ctp10_gui.models.connection import (
    TRANSITIONS,
    AcquisitionSettings,
    BackoffPolicy,
    CancelBackoffTimer,
    CloseSession,
    ConnectionMachine,
    LinkEvent,
    LinkState,
    Notify,
    OpenSession,
    ReapplySettings,
    StartBackoffTimer,
    StartLive,
    StopLive,
    stale_after_s,
)

S = LinkState
E = LinkEvent
ADDR = "TCPIP::10.0.0.5::5025::SOCKET"


class FakeClock:
    """Monotonic clock the test advances by hand."""

    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, dt: float) -> None:
        self.t += dt


def make(state: LinkState = S.DISCONNECTED, *, live: bool = True, attempt: int = 0,
         waiting: bool = False, policy: BackoffPolicy | None = None,
         clock: FakeClock | None = None, seed: int = 1) -> ConnectionMachine:
    m = ConnectionMachine(policy, clock=clock or FakeClock(), wall_clock=lambda: 1.7e9,
                          rng=random.Random(seed), live=live)
    m.state = state
    m.address = ADDR
    m.attempt = attempt
    m.next_attempt_at = 1001.0 if waiting else None
    return m


def kinds(actions: list) -> list[str]:
    """Name the actions, Notify with its kind, to compare against a readable spec."""
    return [f"Notify:{a.kind}" if isinstance(a, Notify) else type(a).__name__ for a in actions]


# ---- the whole table, written out independently -------------------------------------------

NOTE_DISC = "Notify:disconnect"
ALL_STATES = list(S)
# (state, event, setup) -> (next state or None for "unchanged", action names, live wish after)
SPEC: list[tuple[LinkState, LinkEvent, dict, LinkState | None, list[str], bool | None]] = []
for s in ALL_STATES:
    SPEC.append((s, E.CONNECT, {}, S.CONNECTING,
                 ["CancelBackoffTimer", "CloseSession", "OpenSession"], None))
    if s is not S.DISCONNECTED:
        SPEC.append((s, E.DISCONNECT, {}, S.DISCONNECTED,
                     ["CancelBackoffTimer", "CloseSession", NOTE_DISC], None))
    if s is S.CONNECTED:
        SPEC.append((s, E.LIVE_ON, {"live": False}, S.LIVE, ["StartLive"], True))
    elif s is S.LIVE:
        SPEC.append((s, E.LIVE_ON, {}, None, [], True))
    else:
        SPEC.append((s, E.LIVE_ON, {"live": False}, None, ["StartLive"], True))
    if s is S.LIVE:
        SPEC.append((s, E.LIVE_OFF, {}, S.CONNECTED, ["StopLive"], False))
    else:
        SPEC.append((s, E.LIVE_OFF, {}, None, ["StopLive"], False))
SPEC += [
    (S.CONNECTING, E.OPENED, {"live": True}, S.LIVE, ["StartLive", "Notify:connect"], True),
    (S.CONNECTING, E.OPENED, {"live": False}, S.CONNECTED, ["StopLive", "Notify:connect"],
     False),
    (S.CONNECTING, E.OPEN_FAILED, {}, S.RECONNECTING,
     ["CloseSession", "StartBackoffTimer", NOTE_DISC], None),
    (S.CONNECTING, E.OPEN_REJECTED, {}, S.OFFLINE,
     ["CancelBackoffTimer", "CloseSession", "Notify:offline"], None),
    (S.CONNECTING, E.FIRST_OPEN_REFUSED, {}, S.OFFLINE,
     ["CloseSession", "StartBackoffTimer", "Notify:offline"], None),
    (S.RECONNECTING, E.OPENED, {"live": True}, S.LIVE,
     ["ReapplySettings", "StartLive", "Notify:reconnect"], True),
    (S.RECONNECTING, E.OPENED, {"live": False}, S.CONNECTED,
     ["ReapplySettings", "StopLive", "Notify:reconnect"], False),
    (S.RECONNECTING, E.WRONG_INSTRUMENT, {"live": True}, S.CONNECTED,
     ["StopLive", "Notify:different_instrument"], False),
    (S.RECONNECTING, E.OPEN_FAILED, {"attempt": 3}, S.RECONNECTING,
     ["CloseSession", "StartBackoffTimer"], None),
    (S.RECONNECTING, E.OPEN_FAILED, {"attempt": 10}, S.OFFLINE,
     ["CloseSession", "StartBackoffTimer", "Notify:offline"], None),
    (S.RECONNECTING, E.OPEN_REJECTED, {}, S.OFFLINE,
     ["CancelBackoffTimer", "CloseSession", "Notify:offline"], None),
    (S.RECONNECTING, E.BACKOFF_ELAPSED, {"waiting": True}, None,
     ["OpenSession", "Notify:reconnect_attempt"], None),
    (S.RECONNECTING, E.BACKOFF_ELAPSED, {"waiting": False}, None, [], None),
    (S.RECONNECTING, E.RETRY_NOW, {"waiting": True}, None,
     ["CancelBackoffTimer", "OpenSession", "Notify:reconnect_attempt"], None),
    (S.RECONNECTING, E.RETRY_NOW, {"waiting": False}, None, [], None),
    (S.OFFLINE, E.RETRY_NOW, {"attempt": 10}, S.RECONNECTING,
     ["CancelBackoffTimer", "OpenSession", "Notify:reconnect_attempt"], None),
    (S.OFFLINE, E.BACKOFF_ELAPSED, {"waiting": True}, None,
     ["OpenSession", "Notify:reconnect_attempt"], None),
    (S.OFFLINE, E.BACKOFF_ELAPSED, {"waiting": False}, None, [], None),
    (S.OFFLINE, E.OPEN_FAILED, {"attempt": 11}, None, ["CloseSession", "StartBackoffTimer"],
     None),
    (S.OFFLINE, E.OPEN_REJECTED, {}, None, ["CancelBackoffTimer", "CloseSession"], None),
    (S.OFFLINE, E.OPENED, {"live": True}, S.LIVE,
     ["ReapplySettings", "StartLive", "Notify:reconnect"], True),
    (S.OFFLINE, E.OPENED, {"live": False}, S.CONNECTED,
     ["ReapplySettings", "StopLive", "Notify:reconnect"], False),
    (S.OFFLINE, E.WRONG_INSTRUMENT, {"live": True}, S.CONNECTED,
     ["StopLive", "Notify:different_instrument"], False),
    (S.STALE, E.GOOD_REPLY, {"live": True}, S.LIVE, ["Notify:recovered"], None),
    (S.STALE, E.GOOD_REPLY, {"live": False}, S.CONNECTED, ["Notify:recovered"], None),
    (S.STALE, E.BUSY_ENDED, {"live": True}, S.LIVE, ["Notify:recovered"], None),
    (S.STALE, E.BUSY_ENDED, {"live": False}, S.CONNECTED, ["Notify:recovered"], None),
    (S.BUSY, E.BUSY_ENDED, {"live": True}, S.LIVE, [], None),
    (S.BUSY, E.BUSY_ENDED, {"live": False}, S.CONNECTED, [], None),
]
for s in (S.LIVE, S.CONNECTED, S.BUSY):
    SPEC.append((s, E.WATCHDOG_EXPIRED, {}, S.STALE, ["Notify:stale"], None))
    SPEC.append((s, E.GOOD_REPLY, {}, None, [], None))
for s in (S.LIVE, S.CONNECTED, S.STALE, S.BUSY):
    SPEC.append((s, E.LINK_LOST, {}, S.RECONNECTING,
                 ["CloseSession", "StartBackoffTimer", NOTE_DISC], None))
    # Opened by a reconnect attempt but never answered: that attempt failed, no new outage.
    SPEC.append((s, E.LINK_LOST, {"attempt": 4}, S.RECONNECTING,
                 ["CloseSession", "StartBackoffTimer"], None))
    SPEC.append((s, E.LINK_LOST, {"attempt": 10}, S.OFFLINE,
                 ["CloseSession", "StartBackoffTimer", "Notify:offline"], None))
for s in (S.LIVE, S.CONNECTED, S.STALE):
    SPEC.append((s, E.BUSY_STARTED, {}, S.BUSY, [], None))
# A scan started by another client: Busy (no Stale, no reconnect), live resumes after.
for s in (S.LIVE, S.STALE):
    SPEC.append((s, E.BUSY_ELSEWHERE, {}, S.BUSY, ["Notify:busy_elsewhere"], None))
SPEC += [
    (S.BUSY, E.BUSY_ELSEWHERE_ENDED, {"live": True}, S.LIVE, ["Notify:busy_elsewhere_ended"],
     None),
    (S.BUSY, E.BUSY_ELSEWHERE_ENDED, {"live": False}, S.CONNECTED,
     ["Notify:busy_elsewhere_ended"], None),
]
# Past the reply deadline a stale link is lost like any other.
SPEC += [
    (S.STALE, E.REPLY_DEADLINE, {}, S.RECONNECTING,
     ["CloseSession", "StartBackoffTimer", NOTE_DISC], None),
    (S.STALE, E.REPLY_DEADLINE, {"attempt": 4}, S.RECONNECTING,
     ["CloseSession", "StartBackoffTimer"], None),
    (S.STALE, E.REPLY_DEADLINE, {"attempt": 10}, S.OFFLINE,
     ["CloseSession", "StartBackoffTimer", "Notify:offline"], None),
]


def _spec_id(row: tuple) -> str:
    state, event, setup = row[0], row[1], row[2]
    extra = ",".join(f"{k}={v}" for k, v in setup.items())
    return f"{state.label}-{event.value}" + (f"[{extra}]" if extra else "")


@pytest.mark.parametrize("row", SPEC, ids=_spec_id)
def test_every_transition_of_the_table(row: tuple) -> None:
    state, event, setup, expected, action_names, live_after = row
    m = make(state, **setup)
    actions = m.handle(event, "because", address=ADDR if event is E.CONNECT else None)
    assert m.state is (expected or state)
    assert kinds(actions) == action_names
    if live_after is not None:
        assert m.live_wanted is live_after


def test_the_spec_covers_every_row_of_the_table() -> None:
    assert {(row[0], row[1]) for row in SPEC} == set(TRANSITIONS)


@pytest.mark.parametrize("state", ALL_STATES, ids=lambda s: s.label)
def test_events_without_a_row_are_ignored_silently(state: LinkState,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ctp10_gui.link")
    for event in E:
        if (state, event) in TRANSITIONS:
            continue
        m = make(state, attempt=2)
        before = m.status()
        assert m.handle(event, "late signal") == []
        assert m.status() == before
    assert not [r for r in caplog.records if r.levelno >= logging.INFO]


# ---- backoff ------------------------------------------------------------------------------


def test_backoff_doubles_from_one_second_up_to_the_thirty_second_cap() -> None:
    policy = BackoffPolicy()
    assert [policy.nominal(n) for n in range(1, 11)] == [1, 2, 4, 8, 16, 30, 30, 30, 30, 30]
    assert policy.nominal(10_000) == 30.0  # no overflow for absurd attempt numbers


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5, 6, 10])
def test_backoff_jitter_stays_within_twenty_percent_and_uses_the_range(attempt: int) -> None:
    policy = BackoffPolicy()
    rng = random.Random(42)
    nominal = policy.nominal(attempt)
    delays = [policy.delay(attempt, rng) for _ in range(2000)]
    assert min(delays) >= nominal * 0.8
    assert max(delays) <= nominal * 1.2
    # Both ends are reached: the jitter really spreads clients apart.
    assert min(delays) < nominal * 0.82
    assert max(delays) > nominal * 1.18


def test_backoff_is_configurable() -> None:
    policy = BackoffPolicy(initial_s=0.1, factor=3.0, cap_s=1.0, jitter=0.0, max_attempts=3)
    rng = random.Random(0)
    assert [policy.delay(n, rng) for n in (1, 2, 3, 4)] == pytest.approx([0.1, 0.3, 0.9, 1.0])


@pytest.mark.parametrize("kwargs", [
    {"initial_s": -1.0}, {"factor": 0.5}, {"cap_s": 0.5}, {"jitter": 1.0}, {"max_attempts": 0},
])
def test_backoff_rejects_nonsense(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        BackoffPolicy(**kwargs)


def test_stale_after_is_three_intervals_but_at_least_one_second() -> None:
    assert stale_after_s(0.05) == 1.0
    assert stale_after_s(0.5) == 1.5
    assert stale_after_s(10.0) == 30.0
    assert AcquisitionSettings(interval_s=0.05).watchdog_s() == 1.0
    assert AcquisitionSettings(interval_s=0.05, stale_after_s=2.5).watchdog_s() == 2.5
    with pytest.raises(ValueError, match="0–10 s"):
        AcquisitionSettings(interval_s=11)


def test_the_reply_deadline_is_never_shorter_than_the_stale_threshold() -> None:
    assert AcquisitionSettings().reply_deadline_s == 5.0
    assert AcquisitionSettings(interval_s=0.05).give_up_s() == 5.0
    assert AcquisitionSettings(interval_s=0.05, reply_deadline_s=2.0).give_up_s() == 2.0
    assert AcquisitionSettings(interval_s=2.0).give_up_s() == 6.0  # stale after 3 × 2 s
    assert AcquisitionSettings(stale_after_s=8.0).give_up_s() == 8.0
    with pytest.raises(ValueError, match="reply deadline"):
        AcquisitionSettings(reply_deadline_s=0.0)


# ---- whole stories --------------------------------------------------------------------------


def test_a_pause_shorter_than_the_reply_deadline_is_stale_then_live_with_no_reconnect() -> None:
    clock = FakeClock()
    m = make(clock=clock)
    m.handle(E.CONNECT, address=ADDR)
    m.handle(E.OPENED, "EXFO CTP10 serial A")
    m.handle(E.GOOD_REPLY)
    seen = [m.state]
    actions: list = []
    clock.advance(1.0)
    actions += m.handle(E.WATCHDOG_EXPIRED, "no reply for 1.0 s")
    seen.append(m.state)
    clock.advance(2.0)  # the reply in flight arrives 3 s after the last one
    actions += m.handle(E.GOOD_REPLY, "replies again")
    seen.append(m.state)
    assert seen == [S.LIVE, S.STALE, S.LIVE]
    assert kinds(actions) == ["Notify:stale", "Notify:recovered"]  # the session was kept
    assert m.reconnects == 0 and m.attempt == 0 and m.since == clock()
    # A late deadline (the GUI timer fired just after the reply) changes nothing.
    assert m.handle(E.REPLY_DEADLINE, "no reply for 5.0 s") == []
    assert m.state is S.LIVE


def test_a_pause_past_the_reply_deadline_reconnects_and_counts_one_outage() -> None:
    clock = FakeClock()
    m = make(clock=clock)
    m.handle(E.CONNECT, address=ADDR)
    m.handle(E.OPENED, "EXFO CTP10 serial A")
    m.handle(E.GOOD_REPLY)
    seen = [m.state]
    clock.advance(1.0)
    m.handle(E.WATCHDOG_EXPIRED, "no reply for 1.0 s")
    seen.append(m.state)
    clock.advance(4.0)
    actions = m.handle(E.REPLY_DEADLINE, "no reply for 5.0 s (reply deadline 5 s)")
    seen.append(m.state)
    assert seen == [S.LIVE, S.STALE, S.RECONNECTING]
    assert kinds(actions) == ["CloseSession", "StartBackoffTimer", NOTE_DISC]
    assert m.attempt == 1 and "reply deadline 5 s" in m.reason
    # The worker's own timeout of the same reply comes after the verdict: ignored.
    assert m.handle(E.LINK_LOST, "no reply within 5 s") == []
    m.handle(E.BACKOFF_ELAPSED)
    m.handle(E.OPENED, "EXFO CTP10 serial A")
    assert m.state is S.LIVE and m.reconnects == 1



def _lose_link(m: ConnectionMachine) -> list:
    m.handle(E.CONNECT, address=ADDR)
    m.handle(E.OPENED, "EXFO CTP10 serial A")
    assert m.state is S.LIVE
    return m.handle(E.LINK_LOST, "connection reset by 10.0.0.5:5025")


def test_attempts_count_up_with_growing_waits_and_give_up_after_n() -> None:
    clock = FakeClock()
    m = make(clock=clock, seed=7)
    actions = _lose_link(m)
    waits = []
    for n in range(1, 11):
        timer = next(a for a in actions if isinstance(a, StartBackoffTimer))
        assert timer.attempt == n == m.attempt
        assert m.next_attempt_at == pytest.approx(clock() + timer.delay_s)
        assert m.status().next_attempt_at == m.next_attempt_at
        waits.append(timer.delay_s)
        clock.advance(timer.delay_s)
        opened = m.handle(E.BACKOFF_ELAPSED)
        assert kinds(opened) == ["OpenSession", "Notify:reconnect_attempt"]
        assert opened[0] == OpenSession(ADDR)
        assert opened[1].text.startswith(f"attempt {n} of 10: ")
        assert m.next_attempt_at is None
        actions = m.handle(E.OPEN_FAILED, "connection refused by 10.0.0.5:5025")
    nominal = [1, 2, 4, 8, 16, 30, 30, 30, 30, 30]
    assert all(0.8 * w0 <= w <= 1.2 * w0 for w, w0 in zip(waits, nominal, strict=True))
    assert m.state is S.OFFLINE
    assert kinds(actions) == ["CloseSession", "StartBackoffTimer", "Notify:offline"]
    assert m.reason == ("10 attempts failed (connection refused by 10.0.0.5:5025); "
                        "trying again every 60 s")
    assert m.history[-1] == (1.7e9, "offline: " + m.reason)


def test_offline_is_never_for_good_a_slow_retry_runs_until_the_user_disconnects() -> None:
    clock = FakeClock()
    m = make(S.RECONNECTING, attempt=10, waiting=False, clock=clock)
    actions = m.handle(E.OPEN_FAILED, "connection refused by 10.0.0.5:5025")
    timer = next(a for a in actions if isinstance(a, StartBackoffTimer))
    assert (m.state, timer.delay_s, timer.attempt) == (S.OFFLINE, 60.0, 11)
    assert m.status().next_attempt_at == clock() + 60.0  # the badge's countdown
    for n in (11, 12, 13):
        clock.advance(60.0)
        opened = m.handle(E.BACKOFF_ELAPSED)
        assert kinds(opened) == ["OpenSession", "Notify:reconnect_attempt"]
        assert opened[1].text.startswith(f"slow retry, attempt {n}: ")
        assert m.state is S.OFFLINE and m.next_attempt_at is None
        actions = m.handle(E.OPEN_FAILED, "no reply from 10.0.0.5:5025")
        assert kinds(actions) == ["CloseSession", "StartBackoffTimer"]
        assert m.next_attempt_at == clock() + 60.0
    clock.advance(60.0)
    m.handle(E.BACKOFF_ELAPSED)
    actions = m.handle(E.OPENED, "EXFO CTP10 serial A")
    assert m.state is S.LIVE  # the instrument is back: live and recordings resume by themselves
    assert kinds(actions) == ["ReapplySettings", "StartLive", "Notify:reconnect"]
    m.handle(E.GOOD_REPLY)
    assert m.attempt == 0
    assert kinds(m.handle(E.DISCONNECT)) == ["CancelBackoffTimer", "CloseSession", NOTE_DISC]


def test_an_instrument_that_opens_then_stays_silent_is_a_failed_attempt() -> None:
    clock = FakeClock()
    m = make(clock=clock, seed=3, policy=BackoffPolicy(jitter=0.0))
    _lose_link(m)
    waits = []
    for n in range(1, 5):
        assert m.attempt == n
        waits.append(m.next_attempt_at - clock())
        clock.advance(waits[-1])
        m.handle(E.BACKOFF_ELAPSED)
        m.handle(E.OPENED, "EXFO CTP10 serial A")
        assert m.state is S.LIVE and m.status().awaiting_reply  # "Live Data" waits for data
        actions = m.handle(E.LINK_LOST, "no reply from 10.0.0.5:5025 within 1 s to :CTP:SENS4?")
        assert m.state is S.RECONNECTING
        assert "Notify:disconnect" not in kinds(actions)  # the same outage goes on
    assert waits == [1.0, 2.0, 4.0, 8.0]  # the backoff keeps growing
    assert m.attempt == 5
    assert "to :CTP:SENS4?" in m.reason  # names the query that went unanswered


def test_awaiting_reply_ends_with_the_first_good_reply() -> None:
    m = make(S.CONNECTING)
    m.handle(E.OPENED, "EXFO CTP10 serial A")
    assert m.status().awaiting_reply
    m.handle(E.GOOD_REPLY)
    assert not m.status().awaiting_reply
    m.handle(E.LINK_LOST, "reset")
    assert not m.status().awaiting_reply


def test_max_attempts_is_configurable() -> None:
    m = make(policy=BackoffPolicy(max_attempts=2))
    _lose_link(m)
    m.handle(E.BACKOFF_ELAPSED)
    m.handle(E.OPEN_FAILED, "refused")
    assert (m.state, m.attempt) == (S.RECONNECTING, 2)
    m.handle(E.BACKOFF_ELAPSED)
    m.handle(E.OPEN_FAILED, "refused")
    assert m.state is S.OFFLINE


def test_retry_now_interrupts_the_wait_and_keeps_the_attempt_number() -> None:
    m = make()
    _lose_link(m)
    m.handle(E.BACKOFF_ELAPSED)
    m.handle(E.OPEN_FAILED, "refused")
    assert (m.attempt, m.next_attempt_at is not None) == (2, True)
    actions = m.handle(E.RETRY_NOW)
    assert actions[:2] == [CancelBackoffTimer(), OpenSession(ADDR)]
    assert (m.state, m.attempt, m.next_attempt_at) == (S.RECONNECTING, 2, None)
    assert m.handle(E.RETRY_NOW) == []  # already opening: nothing to interrupt
    assert m.handle(E.BACKOFF_ELAPSED) == []  # a timer that fired anyway changes nothing


def test_disconnect_interrupts_the_wait() -> None:
    m = make()
    _lose_link(m)
    actions = m.handle(E.DISCONNECT)
    assert actions[:2] == [CancelBackoffTimer(), CloseSession()]
    assert (m.state, m.attempt, m.next_attempt_at) == (S.DISCONNECTED, 0, None)
    assert m.handle(E.BACKOFF_ELAPSED) == []


def test_connect_to_a_new_address_interrupts_the_wait() -> None:
    m = make()
    _lose_link(m)
    other = "TCPIP::10.0.0.6::5025::SOCKET"
    actions = m.handle(E.CONNECT, address=other)
    assert actions == [CancelBackoffTimer(), CloseSession(), OpenSession(other)]
    assert (m.state, m.address, m.attempt) == (S.CONNECTING, other, 0)
    with pytest.raises(ValueError):
        m.handle(E.CONNECT)


def test_retry_from_offline_starts_over_and_reapplies_on_success() -> None:
    m = make(S.OFFLINE, attempt=10)
    m.handle(E.RETRY_NOW)
    assert (m.state, m.attempt) == (S.RECONNECTING, 1)
    actions = m.handle(E.OPENED, "EXFO CTP10 serial A")
    assert actions[:2] == [ReapplySettings(), StartLive()]
    assert (m.state, m.attempt, m.reconnects) == (S.LIVE, 1, 1)
    m.handle(E.GOOD_REPLY)
    assert m.attempt == 0  # proven by data: the next loss is a new outage


def test_a_different_instrument_is_reported_and_nothing_is_reapplied() -> None:
    m = make()
    _lose_link(m)
    m.handle(E.BACKOFF_ELAPSED)
    actions = m.handle(E.WRONG_INSTRUMENT, "serial B answers at 10.0.0.5:5025, expected A")
    assert not any(isinstance(a, ReapplySettings | StartLive) for a in actions)
    assert StopLive() in actions
    assert m.state is S.CONNECTED
    assert m.live_wanted is False
    assert m.reason == "serial B answers at 10.0.0.5:5025, expected A"
    assert m.history[-1][1] == "different_instrument: " + m.reason
    assert m.status().warning == m.reason  # the badge keeps saying so while it lasts


def test_the_users_next_choice_ends_the_different_instrument_warning() -> None:
    m = make()
    _lose_link(m)
    m.handle(E.BACKOFF_ELAPSED)
    m.handle(E.WRONG_INSTRUMENT, "serial B answers at 10.0.0.5:5025, expected A")
    m.handle(E.GOOD_REPLY)  # probes of the new instrument do not clear it
    assert m.status().warning
    m.handle(E.LIVE_ON)  # the user accepts the instrument that answers
    assert m.status().warning == ""


def test_busy_returns_to_live_and_stale_recovers() -> None:
    m = make(S.LIVE)
    m.handle(E.BUSY_STARTED, "sweep")
    m.handle(E.LIVE_OFF)  # the wish is kept while busy
    assert m.state is S.BUSY
    m.handle(E.BUSY_ENDED)
    assert m.state is S.CONNECTED
    m.handle(E.LIVE_ON)
    m.handle(E.WATCHDOG_EXPIRED, "no reply for 1.0 s")
    assert m.state is S.STALE
    m.handle(E.GOOD_REPLY)
    assert m.state is S.LIVE


def test_busy_elsewhere_is_flagged_only_while_another_clients_scan_keeps_us_busy() -> None:
    m = make(S.LIVE)
    m.handle(E.BUSY_ELSEWHERE, "sweep started elsewhere")
    assert (m.state, m.status().busy_elsewhere, m.reason) == (
        S.BUSY, True, "sweep started elsewhere")
    m.handle(E.WATCHDOG_EXPIRED, "no reply for 120 s")  # even then it says why it stopped
    assert (m.state, m.status().busy_elsewhere) == (S.STALE, False)
    m.handle(E.BUSY_ELSEWHERE, "sweep started elsewhere")
    m.handle(E.BUSY_ELSEWHERE_ENDED)
    assert (m.state, m.status().busy_elsewhere) == (S.LIVE, False)
    m.handle(E.BUSY_STARTED, "Sweeping")  # our own sweep is no news from elsewhere
    assert (m.state, m.status().busy_elsewhere) == (S.BUSY, False)
    assert m.handle(E.BUSY_ELSEWHERE, "sweep started elsewhere") == []  # ours runs already
    assert m.reconnects == 0


def test_status_since_moves_only_on_a_change_of_state() -> None:
    clock = FakeClock()
    m = make(clock=clock)
    _lose_link(m)
    entered = m.status().since
    clock.advance(5)
    m.handle(E.BACKOFF_ELAPSED)
    m.handle(E.OPEN_FAILED, "refused")
    status = m.status()
    assert (status.state, status.since, status.attempt, status.max_attempts) == (
        S.RECONNECTING, entered, 2, 10)
    assert status.reason == "refused"
    assert status.address == ADDR


def test_history_is_bounded_and_counts_reconnects() -> None:
    clock = FakeClock()
    m = ConnectionMachine(clock=clock, wall_clock=lambda: 5.0, rng=random.Random(0),
                          history_size=3)
    m.handle(E.CONNECT, address=ADDR)
    m.handle(E.OPENED)
    for i in range(4):
        m.handle(E.GOOD_REPLY)
        m.handle(E.LINK_LOST, f"reset {i}")
        m.handle(E.BACKOFF_ELAPSED)
        clock.advance(2.5)
        m.handle(E.OPENED)
    assert m.reconnects == 4
    assert m.history == [
        (5.0, "reconnect: reconnected after 2.5 s without link (reset 2)"),
        (5.0, "disconnect: reset 3"),
        (5.0, "reconnect: reconnected after 2.5 s without link (reset 3)"),
    ]


def test_every_transition_is_logged_as_one_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="ctp10_gui.link")
    clock = FakeClock()
    m = ConnectionMachine(BackoffPolicy(jitter=0.0), clock=clock, rng=random.Random(0))
    m.handle(E.CONNECT, address=ADDR)
    m.handle(E.OPENED, "EXFO CTP10 serial A")
    m.handle(E.WATCHDOG_EXPIRED, "no reply for 1.0 s")
    m.handle(E.LINK_LOST, "no reply from 10.0.0.5:5025 within 1.0 s to '*OPC?'")
    m.handle(E.BACKOFF_ELAPSED)
    m.handle(E.OPEN_FAILED, "connection refused by 10.0.0.5:5025")
    m.handle(E.RETRY_NOW)
    m.handle(E.OPENED, "EXFO CTP10 serial A")
    m.handle(E.LIVE_OFF)
    m.handle(E.DISCONNECT)
    lines = [r.getMessage() for r in caplog.records
             if r.name == "ctp10_gui.link" and r.levelno == logging.INFO]
    assert lines == [
        "state: Disconnected -> Connecting (user asked to connect)",
        "state: Connecting -> Live (EXFO CTP10 serial A)",
        "state: Live -> Stale (no reply for 1.0 s)",
        "state: Stale -> Reconnecting (attempt 1 of 10 in 1.0 s: no reply from "
        "10.0.0.5:5025 within 1.0 s to '*OPC?')",
        "state: Reconnecting -> Reconnecting (attempt 2 of 10 in 2.0 s: connection refused "
        "by 10.0.0.5:5025)",
        "state: Reconnecting -> Live (EXFO CTP10 serial A)",
        "state: Live -> Connected (live acquisition paused)",
        "state: Connected -> Disconnected (disconnected by the user)",
    ]
