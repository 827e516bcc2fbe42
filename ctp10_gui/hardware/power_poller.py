"""The live power poll of one module's channels: one message per snapshot, units riding along.

A snapshot is one compound message asking every channel's power, then every channel's unit
(":CTP:SENS4:CHAN1:POW?;…;:CTP:SENS4:CHAN1:UNIT:Y?;…"): each value is converted with the unit
the instrument had when it answered, for no extra round trip, and a unit changed by another
client or the front panel is seen from the next snapshot on. Every other message asks channel
1's unit once more, so the two messages have different reply counts: a reply read one step
late (an extra reply from the instrument or a proxy) never fits the message it is read for.
The poller then reopens the session (a new socket holds no stale reply) and asks again.
Every WATCH_INTERVAL_S the longer message also carries the watch queries (instrument_watch):
the condition register, read with the row, and the settings another client may change.

SCPI parses one program message as a unit, so the units in a reply are those the powers in
the same reply were measured in. Whether the instrument answers compound messages is tried
once per connection. Without them each channel is asked on its own and the units are re-read
every UNIT_CHECK_S: a change made elsewhere is then seen within that time, and the values read
in between carry the unit of the last reading; a value whose unit was never read is not valid.
One query may be sent ahead (see receive()); nothing else may use the session until its reply
was read.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from ctp10_gui.hardware.errors import (
    LinkError,
    LinkFailure,
    MissingHardwareError,
    OutOfRangeError,
    short_address,
)
from ctp10_gui.hardware.instrument_watch import (
    CHANGED_ELSEWHERE_EVENT,
    WATCH_INTERVAL_S,
    WATCH_OFF_EVENT,
    InstrumentWatch,
)
from ctp10_gui.hardware.power import (
    OVER_RANGE_SENTINEL,
    RESYNC_EVENT,
    UNDER_RANGE_DBM,
    UNIT_CHANGED_EVENT,
    ChannelStatus,
    PowerRow,
    decode_power_unit,
    parse_power,
)
from ctp10_gui.hardware.scpi import (
    DETECTOR_CHANNELS,
    DETECTOR_MODULES,
    POWER_QUERY,
    POWER_UNIT_QUERY,
    PowerUnit,
    SessionCache,
    check_index,
)
from ctp10_gui.hardware.transport import Transport

__all__ = ["PROBE_REPLY_S", "RESYNC_GAP_S", "UNIT_CHECK_S", "PowerPoller"]

log = logging.getLogger(__name__)

UNIT_CHECK_S = 0.5  # s between unit re-reads when each channel is asked on its own
# Deadline (s) of the first reply of a poller, which tells compound support and missing hardware
# from silence: an instrument that answers at all answers that in milliseconds. The session's
# own reply deadline (seconds, for pauses of a link known to answer) would delay every first
# connection to an instrument that stays silent on compound messages.
PROBE_REPLY_S = 1.0
# A second resync sooner than this (s) gives the session up: an instrument that keeps sending
# extra replies is a broken link, not something to reopen for at every snapshot.
RESYNC_GAP_S = 1.0
_UNIT_NAMES = {PowerUnit.DBM: "dBm", PowerUnit.MW: "mW"}


class PollOwner(Protocol):
    """What the poller needs from the instrument object (implemented by CTP10)."""

    transport: Transport
    session: SessionCache

    @property
    def address(self) -> str:
        """Return the VISA address."""
        ...

    def query(self, command: str) -> str:
        """Send a query and return its reply."""
        ...

    def garbled(self, command: str, reply: str, why: str) -> LinkError:
        """Close the session and return the LinkError for an unusable reply."""
        ...

    def error_queue(self) -> list[tuple[int, str]]:
        """Drain SYST:ERR? and return the (code, text) entries."""
        ...

    def reopen(self) -> None:
        """Open the session anew on the same instrument (LinkError if another answers)."""
        ...


class PowerPoller:
    """Read snapshots of module (1–20), channels (1–6) on one session; one thread only."""

    def __init__(self, owner: PollOwner, module: int, channels: Sequence[int], *,
                 clock: Callable[[], float], wall_clock: Callable[[], float]) -> None:
        check_index("module", module, DETECTOR_MODULES)
        chans = tuple(channels)
        if not chans:
            raise OutOfRangeError("channels", chans, "one or more of 1–6", "is empty")
        for channel in chans:
            check_index("channel", channel, DETECTOR_CHANNELS)
        self.module = int(module)
        self.channels = tuple(int(c) for c in chans)
        self._owner = owner
        self._clock = clock
        self._wall_clock = wall_clock
        n = self._n = len(self.channels)
        m = self.module
        self._power_commands = tuple(POWER_QUERY.format(m=m, c=c) for c in self.channels)
        self._unit_commands = tuple(POWER_UNIT_QUERY.format(m=m, c=c) for c in self.channels)
        plain = ";".join(self._power_commands + self._unit_commands)
        self._watch = InstrumentWatch(m, self.channels)
        watch = ";".join(self._watch.commands)
        # Turn 0 sends the plain message (2n values), turn 1 one with more values (2n + 1, or
        # with the watch queries 3n + 5): consecutive messages never have the same count.
        self._messages = (plain, f"{plain};{self._unit_commands[0]}",
                          f"{plain};{watch};{self._unit_commands[0]}")
        self._counts = (2 * n, 2 * n + 1, 2 * n + len(self._watch.commands) + 1)
        self._turn = 0  # which turn goes next
        # Monotonic s the watch queries were last sent (None: not yet): the first go
        # WATCH_INTERVAL_S after the second snapshot, once the powers flow.
        self._watched_at: float | None = None
        self._watching = True  # False once the instrument refused a watch query on this session
        # Shared by every all-fine snapshot; a snapshot with a problem gets tuples of its own.
        self._no_errors = ("",) * n
        self._all_ok = (int(ChannelStatus.OK),) * n
        self._all_dbm: tuple[PowerUnit | None, ...] = (PowerUnit.DBM,) * n
        self._dbm_replies = (["0"] * n, ["DBM"] * n)  # the usual unit replies, compared at once
        self._units: tuple[PowerUnit | None, ...] | None = None  # of the last snapshot
        self._units_read_at = -math.inf  # monotonic s of the last unit read, one query each
        self._events: tuple[tuple[str, str], ...] = ()  # for the next row
        self._resynced_at = -math.inf  # monotonic s of the last resync
        self._in_flight: tuple[int, float] | None = None  # (message index, monotonic s sent)
        self._send_failure: LinkError | None = None  # a query sent ahead that did not go out

    def __repr__(self) -> str:
        return f"PowerPoller(module={self.module}, channels={self.channels})"

    def forget_watched(self) -> None:
        """Take the next watch reading as the baseline: this app may have changed settings."""
        self._watch.forget()

    def watch_now(self) -> None:
        """Send the watch queries with the next message that can carry them."""
        self._watched_at = -math.inf

    def _next_message(self) -> int:
        """Return the index of the next message and advance the turn."""
        turn = self._turn
        self._turn = 1 - turn
        if turn == 0:
            return 0
        return 2 if self._watching and self._watch_due() else 1

    def _watch_due(self) -> bool:
        """Return True (and note the time) when the watch queries are to go out now."""
        now = self._clock()
        if self._watched_at is None:
            self._watched_at = now
            return False
        if now - self._watched_at < WATCH_INTERVAL_S:
            return False
        self._watched_at = now
        return True

    @property
    def pending(self) -> bool:
        """Return True while a query sent ahead (or its failure) waits for receive()."""
        return self._in_flight is not None or self._send_failure is not None

    def receive(self, send_next: bool = False) -> PowerRow:
        """Return the next snapshot: the reply to the query sent ahead, else one exchange now.

        With send_next the following snapshot's query goes out as soon as this reply is read
        in full and before it is parsed, when one message does a snapshot on this session:
        the instrument answers while this one is parsed. Its reply, or the LinkError of
        sending it, comes with the next call. Raise LinkError when the link fails,
        MissingHardwareError when the module does not answer while the link is fine.
        """
        failure = self._send_failure
        if failure is not None:
            self._send_failure = None
            raise failure
        flight = self._in_flight
        if flight is None:
            return self._exchange(send_next)
        self._in_flight = None
        turn, sent_at = flight
        try:
            text = self._owner.transport.receive(self._messages[turn])
        except LinkError as exc:
            if turn != 2 or exc.kind is not LinkFailure.TIMEOUT:
                raise
            return self._unwatched(self._silence_text(), exc)
        t_reply = self._clock()
        t_wall = self._wall_clock()
        if send_next:
            self._send()
        return self._row(turn, text, sent_at, t_reply, t_wall)

    # -- one message per snapshot --------------------------------------------------------------

    def _send(self) -> None:
        """Send the next snapshot's message now if one message does a snapshot here."""
        if self._owner.session.compound is not True:
            return  # a snapshot here takes more than one plain exchange
        turn = self._next_message()
        sent_at = self._clock()
        try:
            self._owner.transport.write(self._messages[turn])
        except LinkError as exc:
            self._send_failure = exc  # the reply in hand is good: the failure comes next time
            return
        self._in_flight = (turn, sent_at)

    def _exchange(self, send_next: bool) -> PowerRow:
        """Take one snapshot now, detecting compound support on its first use."""
        compound = self._owner.session.compound
        if compound is False:
            return self._one_by_one()
        turn = self._next_message()
        sent_at = self._clock()
        if compound is None or self._units is None:
            text = self._first_reply(self._messages[turn], self._counts[turn])
            if text is None:
                return self._one_by_one()
        else:
            try:
                text = self._owner.query(self._messages[turn])
            except LinkError as exc:
                if turn != 2 or exc.kind is not LinkFailure.TIMEOUT:
                    raise
                return self._unwatched(self._silence_text(), exc)
        t_reply, t_wall = self._clock(), self._wall_clock()
        if send_next:
            self._send()
        return self._row(turn, text, sent_at, t_reply, t_wall)

    def _row(self, turn: int, text: str, sent_at: float, t_reply: float,
             t_wall: float) -> PowerRow:
        """Parse the reply to message turn, or resync when it belongs to another query."""
        fields = text.split(";")
        if len(fields) != self._counts[turn]:
            return self._resync(turn, text)
        n = self._n
        powers = fields[:n]
        unit_replies = fields[n : 2 * n]
        condition = None
        if turn == 2:
            condition = self._read_watch(fields[2 * n : -1])
        if unit_replies in self._dbm_replies:
            # The usual case in a few C-level calls (this runs thousands of times a second):
            # all in dBm, bare numbers, all in range.
            if self._units is not self._all_dbm:
                self._note_units(self._all_dbm)
            if not self._events:
                try:
                    values = list(map(float, powers))
                except ValueError:
                    pass
                else:
                    # sum() is NaN if any value is NaN, which min() and max() may skip.
                    if (min(values) > UNDER_RANGE_DBM and max(values) < OVER_RANGE_SENTINEL
                            and not math.isnan(sum(values))):
                        return PowerRow(t_reply, t_wall, t_reply - sent_at, values, self._all_ok,
                                        self._no_errors, self._all_dbm, (), condition)
            units = self._all_dbm
        else:
            units = tuple(map(decode_power_unit, unit_replies))
            if units != self._units:
                self._note_units(units, unit_replies)
        return self._parse(powers, units, sent_at, t_reply, t_wall, condition)

    def _read_watch(self, replies: Sequence[str]) -> int | None:
        """Read the watch replies; queue an event naming what changed; return the register."""
        condition, changed = self._watch.read(replies)
        if changed:
            where = short_address(self._owner.address)
            self._events = (*self._events, (CHANGED_ELSEWHERE_EVENT, f"{where}: {changed}"))
        return condition

    def _parse(self, powers: list[str], units: tuple[PowerUnit | None, ...], sent_at: float,
               t_reply: float, t_wall: float, condition: int | None = None) -> PowerRow:
        """Parse one power reply per channel, each in its unit (None: not known, not valid)."""
        values: list[float] = []
        status: list[int] = []
        errors = self._no_errors
        for i, (reply, unit) in enumerate(zip(powers, units, strict=True)):
            if unit is None:
                value, state, error = math.nan, ChannelStatus.ERROR, "power unit not known"
            else:
                value, state, error = parse_power(reply, unit)
            values.append(value)
            status.append(int(state))
            if error:
                errors = (*errors[:i], error, *errors[i + 1 :])
        events, self._events = self._events, ()
        return PowerRow(t_reply, t_wall, t_reply - sent_at, values, tuple(status), errors, units,
                        events, condition)

    def _note_units(self, units: tuple[PowerUnit | None, ...],
                    replies: Sequence[str] = ()) -> None:
        """Keep the units of this snapshot; queue an event per channel whose unit changed."""
        old = self._units
        self._units = units
        known = self._owner.session.power_units
        events = list(self._events)
        for i, (channel, unit) in enumerate(zip(self.channels, units, strict=True)):
            where = f"module {self.module} channel {channel}"
            if unit is None:
                if old is None or old[i] is not None:
                    reply = replies[i] if i < len(replies) else "?"
                    log.warning("%s: unit reply %r names no power unit", where, reply)
                continue
            key = (self.module, channel)
            before = known.get(key)
            known[key] = unit
            previous = old[i] if old is not None else None
            if previous is None or previous is unit or before is unit:
                continue  # first reading, or a change made through this driver
            text = (f"{where} replies in {_UNIT_NAMES[unit]} instead of "
                    f"{_UNIT_NAMES[previous]} (changed on the instrument); values are "
                    "converted to dBm from this sample on")
            log.warning("%s", text)
            events.append((UNIT_CHANGED_EVENT, text))
        self._events = tuple(events)

    def _resync(self, turn: int, text: str) -> PowerRow:
        """Drop a reply that belongs to another query: reopen the session and ask again."""
        message = self._messages[turn]
        count = len(text.split(";"))
        now = self._clock()
        if now - self._resynced_at < RESYNC_GAP_S:
            raise self._owner.garbled(message, text, f"{count} values where "
                                      f"{self._counts[turn]} were asked: replies out of step "
                                      f"again within {RESYNC_GAP_S:g} s")
        self._resynced_at = now
        why = (f"{count} values where {self._counts[turn]} were asked: a reply to another "
               "query; reopened the session and asked again")
        log.warning("reply stream of %s out of step (%r to %r): %s", self._owner.address,
                    text[:80], message[:80], why)
        self._in_flight = None  # a query sent ahead goes with the old socket
        self._send_failure = None
        self._owner.reopen()
        sent_at = self._clock()
        fresh = self._owner.query(message)
        t_reply, t_wall = self._clock(), self._wall_clock()
        if len(fresh.split(";")) != self._counts[turn]:
            if turn == 2:  # on a new socket too: the watch queries are what it does not take
                return self._unwatched(f"{len(fresh.split(';'))} values where "
                                       f"{self._counts[turn]} were asked", None)
            raise self._owner.garbled(message, fresh, "reply stream still out of step after a "
                                      "resync")
        where = short_address(self._owner.address)
        self._events = (*self._events, (RESYNC_EVENT, f"garbled reply from {where}: {why}"))
        return self._row(turn, fresh, sent_at, t_reply, t_wall)

    def _silence_text(self) -> str:
        return f"no reply within {self._owner.transport.io_timeout_s:g} s"

    def _unwatched(self, why: str, silence: LinkError | None) -> PowerRow:
        """Stop watching (see _stop_watching) and take this snapshot without the watch."""
        self._stop_watching(why, silence)
        sent_at = self._clock()
        message = self._messages[1]
        reply = self._owner.query(message)
        t_reply, t_wall = self._clock(), self._wall_clock()
        if len(reply.split(";")) != self._counts[1]:
            raise self._owner.garbled(message, reply, "reply stream out of step")
        return self._row(1, reply, sent_at, t_reply, t_wall)

    def _stop_watching(self, why: str, silence: LinkError | None) -> None:
        """Give the watch up on this session if the instrument refused one of its queries.

        An instrument that does not know a query queues a command or query error and may stay
        silent or answer fewer values. Reopening (a new socket holds no stale reply) and
        draining SYST:ERR? tell that apart from a link that went silent: then silence is raised.
        """
        self._in_flight = None
        self._send_failure = None
        owner = self._owner
        owner.reopen()
        errors = owner.error_queue()
        if silence is not None and not errors:
            raise silence
        self._watching = False
        where = short_address(owner.address)
        refused = f"; it reports {errors[0][0]} {errors[0][1]}" if errors else ""
        text = (f"{where} does not answer the queries watching for changes made elsewhere "
                f"({why}{refused}); changes made elsewhere are not seen on this connection")
        log.warning("%s", text)
        self._events = (*self._events, (WATCH_OFF_EVENT, text))

    @contextlib.contextmanager
    def _probing(self) -> Iterator[None]:
        """Bound the replies read inside to PROBE_REPLY_S (or the session's deadline if less)."""
        transport = self._owner.transport
        deadline_s = transport.io_timeout_s
        transport.io_timeout_s = min(deadline_s, PROBE_REPLY_S)
        try:
            yield
        finally:
            transport.io_timeout_s = deadline_s

    def _first_reply(self, message: str, count: int) -> str | None:
        """Send this poller's first message; return its reply, or None after falling back.

        Compound support is tried here once per connection. An instrument that rejects
        "A?;B?" may answer nothing, only the first part, or the parts on separate lines, and
        it queues a command error (-1xx). None of these can be told apart for sure from the
        first reply, so after a failed attempt the session is reopened (a new socket holds no
        stale reply) and SYST:ERR? is drained (so the error is not blamed on the next
        setting). Only execution errors (-2xx, e.g. -241 "Hardware missing") name hardware
        that is not there: the link is fine, polling again would only repeat it.
        """
        owner = self._owner
        known = owner.session.compound is True
        silence: LinkError | None = None
        try:
            with self._probing():
                reply = owner.query(message)
        except LinkError as exc:
            if exc.kind is not LinkFailure.TIMEOUT:
                raise
            silence, reason = exc, "no reply"
        else:
            if len(reply.split(";")) == count:
                if not known:
                    owner.session.compound = True
                    log.info("%s answers compound queries: one round trip per snapshot",
                             owner.address)
                return reply
            reason = f"{len(reply.split(';'))} value(s) for {count} queries: {reply!r}"
        owner.reopen()
        errors = owner.error_queue()
        for code, text in errors:
            log.info("cleared after the first snapshot query: %d %s", code, text)
        if errors and all(-300 < code <= -200 for code, _ in errors):
            code, text = errors[0]
            raise MissingHardwareError.detector_module(self.module, code, text)
        if known:
            if silence is not None:
                raise silence
            return reply  # read for another query: the row resyncs
        log.info("%s does not answer compound queries (%s); one query per channel on this "
                 "connection", owner.address, reason)
        owner.session.compound = False
        return None

    # -- one query per channel -----------------------------------------------------------------

    def _one_by_one(self) -> PowerRow:
        """Take a snapshot one query per channel; re-read the units when they are due."""
        if self._clock() - self._units_read_at >= UNIT_CHECK_S:
            self._read_units()
        query = self._owner.query
        condition = None
        if self._watching and self._watch_due():
            try:
                condition = self._read_watch([query(c) for c in self._watch.commands])
            except LinkError as exc:
                if exc.kind is not LinkFailure.TIMEOUT:
                    raise
                self._stop_watching(self._silence_text(), exc)
        sent_at = self._clock()
        powers = [query(command) for command in self._power_commands]
        units = self._units if self._units is not None else (None,) * self._n
        return self._parse(powers, units, sent_at, self._clock(), self._wall_clock(), condition)

    def _read_units(self) -> None:
        """Read every channel's unit; name a module that does not answer.

        A SCPI instrument does not answer a query to hardware it lacks: it queues an error
        (-241 "Hardware missing") and stays silent, which looks like a dead link. Reopening
        and reading the error queue tells the two apart.
        """
        owner = self._owner
        try:
            with self._probing():
                replies = [owner.query(command) for command in self._unit_commands]
        except LinkError as exc:
            if exc.kind is not LinkFailure.TIMEOUT:
                raise
            silence = exc
        else:
            self._units_read_at = self._clock()
            units = tuple(map(decode_power_unit, replies))
            if units != self._units:
                self._note_units(units, replies)
            return
        owner.reopen()
        errors = owner.error_queue()
        if not errors:
            raise silence
        code, text = errors[0]
        raise MissingHardwareError.detector_module(self.module, code, text)

