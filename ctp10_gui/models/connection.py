"""Connection state machine: a pure transition table, backoff policy and link status types.

No Qt here. The table maps ``(state, event)`` to rules; the first rule whose guard holds is
applied, giving the next state and the actions the link controller executes (open or close the
session, start or cancel the backoff timer, start or stop live polling, re-apply the user's
settings, tell recordings what happened). The clock, wall clock and random source are injected,
so tests drive every transition without sleeping.

A different instrument answering after a reconnect (another ``*IDN?`` serial) leads to
CONNECTED with live acquisition switched off and a warning as the reason: the user sees what
answers at the address, nothing of the old settings is sent to it, and no data of the wrong
instrument flows into a running view or recording until the user turns live on again.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

log = logging.getLogger("ctp10_gui.link")

HISTORY_SIZE = 100  # outage history entries kept; one lab night rarely has more


class LinkState(enum.Enum):
    """Where the link to the instrument stands; the value is the word shown and logged."""

    DISCONNECTED = "Disconnected"  # the user's choice, nothing open
    CONNECTING = "Connecting"  # first open after the user asked to connect
    CONNECTED = "Connected"  # session open, live acquisition off, probed every 2 s
    LIVE = "Live"  # fresh data flowing
    STALE = "Stale"  # no good reply within the watchdog period; the session is kept
    RECONNECTING = "Reconnecting"  # attempt n of N: waiting for the backoff timer or opening
    OFFLINE = "Offline"  # out of fast attempts: a slow retry runs; "Retry now" starts again
    BUSY = "Busy"  # a sweep or long transfer (ours or another client's): live paused

    @property
    def label(self) -> str:
        """Return the word shown in the status badge and the log."""
        return self.value


class LinkEvent(enum.Enum):
    """What happened: a user action, a worker report or a timer."""

    CONNECT = "connect"  # user: connect to an address (also a change of address)
    DISCONNECT = "disconnect"  # user
    RETRY_NOW = "retry now"  # user
    OPENED = "opened"  # worker: session open, *IDN? answered, expected instrument
    OPEN_FAILED = "open failed"  # worker: refused, silent, timeout... worth retrying
    OPEN_REJECTED = "open rejected"  # worker: bad address or not a CTP10: retrying is pointless
    FIRST_OPEN_REFUSED = "first open refused"  # refused or unreachable before ever answering
    WRONG_INSTRUMENT = "wrong instrument"  # controller: *IDN? serial differs after a reconnect
    GOOD_REPLY = "good reply"  # worker: data or probe answer arrived
    WATCHDOG_EXPIRED = "watchdog expired"  # GUI-thread watchdog: no good reply, data stale
    REPLY_DEADLINE = "reply deadline"  # GUI-thread watchdog: stale past the reply deadline
    LINK_LOST = "link lost"  # worker: LinkError on an open session
    BACKOFF_ELAPSED = "backoff elapsed"  # backoff timer
    BUSY_STARTED = "busy started"  # worker started a busy request
    BUSY_ENDED = "busy ended"  # worker finished a busy request
    BUSY_ELSEWHERE = "busy elsewhere"  # worker: a scan runs that this app did not start
    BUSY_ELSEWHERE_ENDED = "busy elsewhere ended"  # worker: that scan is over
    LIVE_ON = "live on"  # user
    LIVE_OFF = "live off"  # user


# ---- actions the controller executes -------------------------------------------------------


@dataclass(frozen=True)
class OpenSession:
    """Open a session to the address (close any old one first) and probe ``*IDN?``."""

    address: str


@dataclass(frozen=True)
class CloseSession:
    """Close the session (never clear() it)."""


@dataclass(frozen=True)
class StartBackoffTimer:
    """Wait delay_s (seconds) before open attempt number `attempt`."""

    delay_s: float
    attempt: int


@dataclass(frozen=True)
class CancelBackoffTimer:
    """Stop a pending backoff wait."""


@dataclass(frozen=True)
class StartLive:
    """Poll snapshots at the configured interval."""


@dataclass(frozen=True)
class StopLive:
    """Stop polling snapshots; the worker probes the link every 2 s instead."""


@dataclass(frozen=True)
class ReapplySettings:
    """Send the user's instrument settings again (same instrument after a reconnect)."""


@dataclass(frozen=True)
class Notify:
    """Tell recordings and the history what happened: kind is one of NOTIFY_KINDS."""

    kind: str
    text: str


Action = (
    OpenSession | CloseSession | StartBackoffTimer | CancelBackoffTimer | StartLive | StopLive
    | ReapplySettings | Notify
)

NOTIFY_KINDS = (
    "connect", "disconnect", "stale", "recovered", "reconnect_attempt", "reconnect",
    "different_instrument", "offline", "busy_elsewhere", "busy_elsewhere_ended",
)
HISTORY_KINDS = frozenset({"disconnect", "reconnect", "different_instrument", "offline"})


class Do(enum.Enum):
    """Action templates in the table; the machine fills in address, delay and text."""

    OPEN = "open"
    CLOSE = "close"
    BACKOFF = "backoff"  # next attempt number, jittered delay
    SLOW_RETRY = "slow retry"  # the fixed long wait once the fast attempts are used up
    CANCEL_BACKOFF = "cancel backoff"
    START_LIVE = "start live"
    STOP_LIVE = "stop live"
    REAPPLY = "reapply"
    NOTE_CONNECT = "connect"
    NOTE_DISCONNECT = "disconnect"
    NOTE_STALE = "stale"
    NOTE_RECOVERED = "recovered"
    NOTE_ATTEMPT = "reconnect_attempt"
    NOTE_RECONNECT = "reconnect"
    NOTE_DIFFERENT = "different_instrument"
    NOTE_OFFLINE = "offline"
    NOTE_BUSY_ELSEWHERE = "busy_elsewhere"
    NOTE_BUSY_ELSEWHERE_ENDED = "busy_elsewhere_ended"


# The user's next choice after a different-instrument warning ends the warning.
_CLEARS_WARNING = frozenset({LinkEvent.CONNECT, LinkEvent.DISCONNECT, LinkEvent.LIVE_ON})


class Guard(enum.Enum):
    """Conditions a rule may require, evaluated on the machine."""

    LIVE_WANTED = "live wanted"
    LIVE_NOT_WANTED = "live not wanted"
    ATTEMPTS_LEFT = "attempts left"
    ATTEMPTS_EXHAUSTED = "attempts exhausted"
    WAITING = "waiting for the backoff timer"
    PROVEN = "the session answered since it opened"  # attempt 0: a lost link starts over
    UNPROVEN_ATTEMPTS_LEFT = "opened but never answered, attempts left"
    UNPROVEN_EXHAUSTED = "opened but never answered, attempts used up"


class Attempts(enum.Enum):
    """How a rule changes the attempt counter (before its actions run)."""

    KEEP = "keep"
    FIRST = "first"  # a new outage or a restart after giving up: attempt 1
    NEXT = "next"
    RESET = "reset"  # 0: no outage


@dataclass(frozen=True)
class Rule:
    """One row of the table: the next state (None: stay, no transition) and actions."""

    target: LinkState | None
    actions: tuple[Do, ...] = ()
    guard: Guard | None = None
    attempts: Attempts = Attempts.KEEP
    live: bool | None = None  # new value of the user's live on/off wish
    why: str = ""  # reason when the event gives none


S = LinkState
E = LinkEvent

# States in which a session is open and the watchdog runs.
OPEN_STATES = frozenset({S.CONNECTED, S.LIVE, S.STALE, S.BUSY})
_ALL = tuple(S)

_resume = (  # back to fresh data: LIVE or CONNECTED depending on the user's live wish
    Rule(S.LIVE, (Do.NOTE_RECOVERED,), Guard.LIVE_WANTED, why="replies again"),
    Rule(S.CONNECTED, (Do.NOTE_RECOVERED,), Guard.LIVE_NOT_WANTED, why="replies again"),
)
_end_busy = (
    Rule(S.LIVE, (), Guard.LIVE_WANTED, why="operation finished"),
    Rule(S.CONNECTED, (), Guard.LIVE_NOT_WANTED, why="operation finished"),
)
_lost = (
    Rule(S.RECONNECTING, (Do.CLOSE, Do.BACKOFF, Do.NOTE_DISCONNECT), Guard.PROVEN,
         attempts=Attempts.FIRST, why="link lost"),
    # A session that opened but never answered is a failed attempt: the backoff keeps growing.
    Rule(S.RECONNECTING, (Do.CLOSE, Do.BACKOFF), Guard.UNPROVEN_ATTEMPTS_LEFT,
         attempts=Attempts.NEXT, why="opened but never answered"),
    Rule(S.OFFLINE, (Do.CLOSE, Do.SLOW_RETRY, Do.NOTE_OFFLINE), Guard.UNPROVEN_EXHAUSTED,
         why="gave up"),
)


def _build_table() -> dict[tuple[LinkState, LinkEvent], tuple[Rule, ...]]:
    t: dict[tuple[LinkState, LinkEvent], tuple[Rule, ...]] = {}
    connect = (Rule(S.CONNECTING, (Do.CANCEL_BACKOFF, Do.CLOSE, Do.OPEN),
                    attempts=Attempts.RESET, why="user asked to connect"),)
    disconnect = (Rule(S.DISCONNECTED, (Do.CANCEL_BACKOFF, Do.CLOSE, Do.NOTE_DISCONNECT),
                       attempts=Attempts.RESET, why="disconnected by the user"),)
    for s in _ALL:
        t[(s, E.CONNECT)] = connect
        if s is not S.DISCONNECTED:
            t[(s, E.DISCONNECT)] = disconnect
        # The live wish is kept in every state so it holds after the next (re)connect.
        t[(s, E.LIVE_ON)] = (Rule(None, (Do.START_LIVE,), live=True),)
        t[(s, E.LIVE_OFF)] = (Rule(None, (Do.STOP_LIVE,), live=False),)
    t[(S.CONNECTED, E.LIVE_ON)] = (Rule(S.LIVE, (Do.START_LIVE,), live=True,
                                        why="live acquisition on"),)
    t[(S.LIVE, E.LIVE_ON)] = (Rule(None, (), live=True),)
    t[(S.LIVE, E.LIVE_OFF)] = (Rule(S.CONNECTED, (Do.STOP_LIVE,), live=False,
                                    why="live acquisition paused"),)

    first_open = (
        Rule(S.LIVE, (Do.START_LIVE, Do.NOTE_CONNECT), Guard.LIVE_WANTED, why="connected"),
        Rule(S.CONNECTED, (Do.STOP_LIVE, Do.NOTE_CONNECT), Guard.LIVE_NOT_WANTED,
             why="connected"),
    )
    # The attempt count is kept until the first good reply: an instrument that opens and
    # then stays silent counts as a failed attempt, not as a fresh outage.
    reopen = (
        Rule(S.LIVE, (Do.REAPPLY, Do.START_LIVE, Do.NOTE_RECONNECT), Guard.LIVE_WANTED,
             why="reconnected"),
        Rule(S.CONNECTED, (Do.REAPPLY, Do.STOP_LIVE, Do.NOTE_RECONNECT), Guard.LIVE_NOT_WANTED,
             why="reconnected"),
    )
    rejected = (Rule(S.OFFLINE, (Do.CANCEL_BACKOFF, Do.CLOSE, Do.NOTE_OFFLINE),
                     why="address rejected"),)
    t[(S.CONNECTING, E.OPENED)] = first_open
    t[(S.CONNECTING, E.OPEN_FAILED)] = (
        Rule(S.RECONNECTING, (Do.CLOSE, Do.BACKOFF, Do.NOTE_DISCONNECT),
             attempts=Attempts.FIRST, why="could not open"),
    )
    t[(S.CONNECTING, E.OPEN_REJECTED)] = rejected
    # Said at once instead of minutes of "Reconnecting"; a slow retry still catches an
    # instrument that is booting.
    t[(S.CONNECTING, E.FIRST_OPEN_REFUSED)] = (
        Rule(S.OFFLINE, (Do.CLOSE, Do.SLOW_RETRY, Do.NOTE_OFFLINE), why="could not open"),
    )

    t[(S.RECONNECTING, E.OPENED)] = reopen
    different = (
        Rule(S.CONNECTED, (Do.STOP_LIVE, Do.NOTE_DIFFERENT),
             attempts=Attempts.RESET, live=False, why="a different instrument answers"),
    )
    t[(S.RECONNECTING, E.WRONG_INSTRUMENT)] = different
    t[(S.RECONNECTING, E.OPEN_FAILED)] = (
        Rule(S.RECONNECTING, (Do.CLOSE, Do.BACKOFF), Guard.ATTEMPTS_LEFT,
             attempts=Attempts.NEXT, why="could not open"),
        Rule(S.OFFLINE, (Do.CLOSE, Do.SLOW_RETRY, Do.NOTE_OFFLINE), Guard.ATTEMPTS_EXHAUSTED,
             why="gave up"),
    )
    # Never offline for good after a lost link: a slow retry runs until the user disconnects.
    t[(S.OFFLINE, E.BACKOFF_ELAPSED)] = (Rule(None, (Do.OPEN, Do.NOTE_ATTEMPT), Guard.WAITING),)
    t[(S.OFFLINE, E.OPEN_FAILED)] = (
        Rule(None, (Do.CLOSE, Do.SLOW_RETRY), attempts=Attempts.NEXT, why="could not open"),
    )
    t[(S.OFFLINE, E.OPENED)] = reopen
    t[(S.OFFLINE, E.WRONG_INSTRUMENT)] = different
    t[(S.OFFLINE, E.OPEN_REJECTED)] = (Rule(None, (Do.CANCEL_BACKOFF, Do.CLOSE),
                                            why="address rejected"),)
    t[(S.RECONNECTING, E.OPEN_REJECTED)] = rejected
    t[(S.RECONNECTING, E.BACKOFF_ELAPSED)] = (
        Rule(None, (Do.OPEN, Do.NOTE_ATTEMPT), Guard.WAITING),
    )
    t[(S.RECONNECTING, E.RETRY_NOW)] = (  # while opening already: nothing to interrupt
        Rule(None, (Do.CANCEL_BACKOFF, Do.OPEN, Do.NOTE_ATTEMPT), Guard.WAITING),
    )
    t[(S.OFFLINE, E.RETRY_NOW)] = (
        Rule(S.RECONNECTING, (Do.CANCEL_BACKOFF, Do.OPEN, Do.NOTE_ATTEMPT),
             attempts=Attempts.FIRST, why="retry now"),
    )

    for s in (S.LIVE, S.CONNECTED, S.BUSY):
        t[(s, E.WATCHDOG_EXPIRED)] = (Rule(S.STALE, (Do.NOTE_STALE,), why="no reply"),)
        t[(s, E.GOOD_REPLY)] = (Rule(None, attempts=Attempts.RESET),)
    for s in (S.LIVE, S.CONNECTED, S.STALE, S.BUSY):
        t[(s, E.LINK_LOST)] = _lost
    # Stale keeps the session and the reply in flight: a pause shorter than the reply
    # deadline ends with that reply (GOOD_REPLY) and no reconnect; a longer one is a loss.
    t[(S.STALE, E.REPLY_DEADLINE)] = _lost
    t[(S.STALE, E.GOOD_REPLY)] = tuple(dataclasses.replace(r, attempts=Attempts.RESET)
                                       for r in _resume)
    t[(S.STALE, E.BUSY_ENDED)] = _resume
    for s in (S.LIVE, S.CONNECTED, S.STALE):
        t[(s, E.BUSY_STARTED)] = (Rule(S.BUSY, (), why="long operation"),)
    t[(S.BUSY, E.BUSY_ENDED)] = _end_busy
    # A scan another client started: live pauses (the instrument may not answer powers
    # meanwhile), the worker reads the condition register instead, and live resumes after.
    for s in (S.LIVE, S.STALE):
        t[(s, E.BUSY_ELSEWHERE)] = (Rule(S.BUSY, (Do.NOTE_BUSY_ELSEWHERE,),
                                         why="sweep started elsewhere"),)
    t[(S.BUSY, E.BUSY_ELSEWHERE_ENDED)] = (
        Rule(S.LIVE, (Do.NOTE_BUSY_ELSEWHERE_ENDED,), Guard.LIVE_WANTED,
             why="the scan started elsewhere ended; live resumed"),
        Rule(S.CONNECTED, (Do.NOTE_BUSY_ELSEWHERE_ENDED,), Guard.LIVE_NOT_WANTED,
             why="the scan started elsewhere ended"),
    )
    return t


TRANSITIONS: Mapping[tuple[LinkState, LinkEvent], tuple[Rule, ...]] = _build_table()


# ---- backoff ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackoffPolicy:
    """Delays between reconnect attempts: initial_s × factor^(n−1), capped, ± jitter."""

    initial_s: float = 1.0
    factor: float = 2.0
    cap_s: float = 30.0
    jitter: float = 0.2  # fraction, 0..1: each delay is nominal × (1 ± jitter)
    max_attempts: int = 10
    slow_retry_s: float = 60.0  # wait between attempts once the fast ones are used up

    def __post_init__(self) -> None:
        if not (self.initial_s >= 0 and self.factor >= 1 and self.cap_s >= self.initial_s):
            raise ValueError(
                f"backoff needs initial ≥ 0 s, factor ≥ 1 and cap ≥ initial; got "
                f"{self.initial_s} s, ×{self.factor}, cap {self.cap_s} s")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"backoff jitter must be within 0–1, got {self.jitter}")
        if self.max_attempts < 1:
            raise ValueError(f"backoff needs at least 1 attempt, got {self.max_attempts}")
        if self.slow_retry_s < self.cap_s:
            raise ValueError(f"the slow retry ({self.slow_retry_s} s) must not be shorter than "
                             f"the backoff cap ({self.cap_s} s)")

    def nominal(self, attempt: int) -> float:
        """Return the delay in s before attempt n (1-based) without jitter."""
        try:
            value = self.initial_s * self.factor ** max(attempt - 1, 0)
        except OverflowError:  # a huge attempt number: far past the cap anyway
            return self.cap_s
        return min(value, self.cap_s)

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Return the jittered delay in s before attempt n: nominal × U(1 − jitter, 1 + jitter)."""
        return self.nominal(attempt) * (1.0 + rng.uniform(-self.jitter, self.jitter))


def stale_after_s(poll_interval_s: float, override_s: float | None = None) -> float:
    """Return the silence (s) after which data is stale: the user's override, else max(3 T, 1 s).

    The one stale rule: the link's watchdog, the readouts' greying and the chart's cut use it.
    """
    if override_s is not None:
        return override_s
    return max(3.0 * poll_interval_s, 1.0)


# ---- status types shared with the Qt layer ----------------------------------------------------


@dataclass(frozen=True)
class LinkStatus:
    """What the status badge shows: state, attempt n of N, reason, next attempt time."""

    state: LinkState
    attempt: int
    max_attempts: int
    reason: str
    next_attempt_at: float | None  # monotonic s; None unless waiting for the backoff timer
    since: float  # monotonic s at which this state was entered
    address: str | None = None
    live: bool = True  # the user's live on/off wish
    warning: str = ""  # e.g. a different instrument answers; cleared by the user's next choice
    awaiting_reply: bool = False  # opened, but no data or probe answer yet on this session
    busy_elsewhere: bool = False  # BUSY because another client runs a scan, not this app


@dataclass(frozen=True)
class LinkHealth:
    """Link statistics for the health panel, refreshed about twice a second."""

    latency_p50_s: float | None
    latency_p95_s: float | None
    achieved_hz: float
    requested_hz: float  # 0 when live acquisition is off
    errors: int
    uptime_s: float  # since the current session opened; 0 when none is open
    reconnects: int
    history: list[tuple[float, str]]  # (wall-clock s, what happened and why), oldest first
    last_instrument_errors: list[str]


@dataclass(frozen=True)
class AcquisitionSettings:
    """How the link polls: module, channels, interval (0–10 s), timeouts in s, backoff."""

    module: int = 4
    channels: tuple[int, ...] = (1, 2, 3, 4)
    interval_s: float = 0.05  # 0 = as fast as the link allows
    live: bool = True
    stale_after_s: float | None = None  # None: stale_after_s(interval_s)
    reply_deadline_s: float = 5.0  # a reply awaited this long (≥ the stale threshold) is lost
    open_timeout_s: float = 2.0
    probe_interval_s: float = 2.0  # while live is off
    busy_timeout_s: float = 120.0  # watchdog deadline of a busy request that names none
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)

    def __post_init__(self) -> None:
        if not 0 <= self.interval_s <= 10:
            raise ValueError(f"poll interval must be within 0–10 s, got {self.interval_s} s")
        if not self.channels:
            raise ValueError("at least one channel must be selected")
        if not self.reply_deadline_s > 0:
            raise ValueError(f"the reply deadline must be positive, got {self.reply_deadline_s} s")

    def watchdog_s(self) -> float:
        """Return the live watchdog period in s."""
        return stale_after_s(self.interval_s, self.stale_after_s)

    def give_up_s(self) -> float:
        """Return the silence (s) after which a stale link is torn down: never before stale."""
        return max(self.reply_deadline_s, self.watchdog_s())


# ---- the machine ------------------------------------------------------------------------------


class ConnectionMachine:
    """Hold the link state and apply the transition table; every transition is logged."""

    def __init__(self, policy: BackoffPolicy | None = None, *,
                 clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None, live: bool = True,
                 table: Mapping[tuple[LinkState, LinkEvent], tuple[Rule, ...]] = TRANSITIONS,
                 history_size: int = HISTORY_SIZE) -> None:
        self.policy = policy or BackoffPolicy()
        self._clock = clock
        self._wall = wall_clock
        self._rng = rng if rng is not None else random.Random()
        self._table = table
        self.state = LinkState.DISCONNECTED
        self.attempt = 0
        self.reason = ""
        self.warning = ""
        self.next_attempt_at: float | None = None
        self.since = clock()
        self.address: str | None = None
        self.live_wanted = live
        self.awaiting_reply = False
        self.busy_elsewhere = False
        self.reconnects = 0
        self._history: deque[tuple[float, str]] = deque(maxlen=history_size)
        self._outage: tuple[float, str] | None = None  # (monotonic s, cause) of the last loss

    @property
    def max_attempts(self) -> int:
        """Return N, the number of reconnect attempts before going offline."""
        return self.policy.max_attempts

    @property
    def history(self) -> list[tuple[float, str]]:
        """Return the outage history: (wall-clock s, what happened and why), oldest first."""
        return list(self._history)

    def status(self) -> LinkStatus:
        """Return the current status as an immutable value."""
        return LinkStatus(self.state, self.attempt, self.max_attempts, self.reason,
                          self.next_attempt_at, self.since, self.address, self.live_wanted,
                          self.warning, self.awaiting_reply, self.busy_elsewhere)

    def rule_for(self, event: LinkEvent) -> Rule | None:
        """Return the rule the event would apply in the current state, or None (ignored)."""
        for rule in self._table.get((self.state, event), ()):
            if rule.guard is None or self._holds(rule.guard):
                return rule
        return None

    def _holds(self, guard: Guard) -> bool:
        match guard:
            case Guard.LIVE_WANTED:
                return self.live_wanted
            case Guard.LIVE_NOT_WANTED:
                return not self.live_wanted
            case Guard.ATTEMPTS_LEFT:
                return self.attempt < self.max_attempts
            case Guard.ATTEMPTS_EXHAUSTED:
                return self.attempt >= self.max_attempts
            case Guard.WAITING:
                return self.next_attempt_at is not None
            case Guard.PROVEN:
                return self.attempt == 0
            case Guard.UNPROVEN_ATTEMPTS_LEFT:
                return 0 < self.attempt < self.max_attempts
            case Guard.UNPROVEN_EXHAUSTED:
                return self.attempt >= self.max_attempts

    def handle(self, event: LinkEvent, reason: str = "", *,
               address: str | None = None) -> list[Action]:
        """Apply an event and return the actions to execute, in order; [] when ignored."""
        if event is LinkEvent.CONNECT:
            if not address:
                raise ValueError("CONNECT needs the address to connect to")
            self.address = address
        rule = self.rule_for(event)
        if rule is None:
            log.debug("ignored %s in %s (%s)", event.value, self.state.label, reason)
            return []
        old = self.state
        text = reason or rule.why or event.value
        if rule.live is not None:
            self.live_wanted = rule.live
        match rule.attempts:
            case Attempts.FIRST:
                self.attempt = 1
            case Attempts.NEXT:
                self.attempt += 1
            case Attempts.RESET:
                self.attempt = 0
            case Attempts.KEEP:
                pass
        if rule.target is not None:
            self.state = rule.target
            self.reason = text
            if rule.target is not old:
                self.since = self._clock()
        if event is LinkEvent.OPENED:
            self.awaiting_reply = True
        elif event is LinkEvent.GOOD_REPLY or self.state not in OPEN_STATES:
            self.awaiting_reply = False
        if self.state is not LinkState.BUSY:
            self.busy_elsewhere = False
        elif event is LinkEvent.BUSY_ELSEWHERE:
            self.busy_elsewhere = True
        if event is LinkEvent.WRONG_INSTRUMENT:
            self.warning = text
        elif event in _CLEARS_WARNING:
            self.warning = ""  # the user chose: a new address, disconnect, or live on the new one
        actions = [self._materialize(do, text) for do in rule.actions]
        if rule.target is not None:
            log.info("state: %s -> %s (%s)", old.label, self.state.label,
                     self._log_text(self.reason))
        return actions

    def _log_text(self, text: str) -> str:
        if self.state is LinkState.RECONNECTING:
            when = ("opening now" if self.next_attempt_at is None else
                    f"in {max(self.next_attempt_at - self._clock(), 0.0):.1f} s")
            return f"attempt {self.attempt} of {self.max_attempts} {when}: {text}"
        return text

    def _materialize(self, do: Do, text: str) -> Action:
        match do:
            case Do.OPEN:
                self.next_attempt_at = None
                assert self.address is not None, "OPEN before any CONNECT named an address"
                return OpenSession(self.address)
            case Do.CLOSE:
                return CloseSession()
            case Do.BACKOFF:
                delay = self.policy.delay(self.attempt, self._rng)
                self.next_attempt_at = self._clock() + delay
                return StartBackoffTimer(delay, self.attempt)
            case Do.SLOW_RETRY:
                delay = self.policy.slow_retry_s
                self.next_attempt_at = self._clock() + delay
                return StartBackoffTimer(delay, self.attempt + 1)
            case Do.CANCEL_BACKOFF:
                self.next_attempt_at = None
                return CancelBackoffTimer()
            case Do.START_LIVE:
                return StartLive()
            case Do.STOP_LIVE:
                return StopLive()
            case Do.REAPPLY:
                return ReapplySettings()
        kind = do.value
        if kind == "disconnect":
            self._outage = (self._clock(), text)
        elif kind == "reconnect":
            self.reconnects += 1
            if self._outage is not None:
                since, cause = self._outage
                text = f"{text} after {self._clock() - since:.1f} s without link ({cause})"
        elif kind == "reconnect_attempt":
            if self.state is LinkState.OFFLINE:
                text = f"slow retry, attempt {self.attempt + 1}: {self.reason}"
            else:
                text = f"attempt {self.attempt} of {self.max_attempts}: {self.reason}"
        elif kind == "offline" and self.attempt >= self.max_attempts:
            text = (f"{self.attempt} attempts failed ({self.reason}); "
                    f"trying again every {self.policy.slow_retry_s:g} s")
            self.reason = text
        if kind in HISTORY_KINDS:
            self._history.append((self._wall(), f"{kind}: {text}"))
        return Notify(kind, text)
