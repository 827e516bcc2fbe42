"""A scripted transport for protocol tests: exact (sent, reply) pairs, in order, nothing else.

In the style of PyMeasure's ``expected_protocol``: each pair is (command the driver must send,
reply). A query is one pair ``("CMD?", "reply")`` or two, ``("CMD?", None), (None, "reply")``;
a write is ``("CMD", None)``; a binary query's reply is the whole IEEE block as bytes (see
:func:`ieee_block`). An Exception instance as reply is raised instead (and, like the real
transport, closes the session). Any mismatch, extra exchange or leftover pair fails the test.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ctp10_gui.hardware.ctp10 import CTP10
from ctp10_gui.hardware.errors import LinkError, LinkFailure
from ctp10_gui.hardware.transport import Transport

__all__ = ["ReplayTransport", "expected_protocol", "ieee_block"]

scpi_log = logging.getLogger("ctp10_gui.scpi")

Reply = str | bytes | BaseException | None
Exchange = Sequence[tuple[str | None, Reply]]


def ieee_block(payload: bytes, trailer: bytes = b"\r\n") -> bytes:
    """Return payload framed as an IEEE 488.2 definite-length block ("#<n><len><payload>")."""
    length = str(len(payload)).encode()
    return b"#" + str(len(length)).encode() + length + payload + trailer


class ReplayTransport(Transport):
    """Play back a fixed SCPI exchange and fail on anything the driver does differently."""

    def __init__(
        self,
        exchange: Exchange,
        address: str = "TCPIP::replay::5025::SOCKET",
        *,
        io_timeout_s: float = 1.0,
    ) -> None:
        self.address = address
        self.io_timeout_s = io_timeout_s
        self.settings_sent = 0
        self._pairs = list(exchange)
        self._next = 0
        self._open = False
        self._unread: tuple[str, Reply] | None = None  # a written query whose reply is unread
        self._reading: str | None = None  # the command whose reply line was read last
        self.opens = 0
        self.closes = 0

    @property
    def is_open(self) -> bool:
        """Return True while the (pretend) session is open."""
        return self._open

    def open(self) -> None:
        """Open the pretend session (counted in .opens)."""
        self._open = True
        self.opens += 1
        scpi_log.debug("opened %s", self.address)

    def close(self) -> None:
        """Close the pretend session; idempotent (real closes counted in .closes)."""
        if self._open:
            self.closes += 1
            scpi_log.debug("closed %s", self.address)
        self._open = False

    def abort(self) -> None:
        """Close the pretend session, as a real transport's abort() makes its owner do."""
        self.close()

    @property
    def remaining(self) -> list[tuple[str | None, Reply]]:
        """Return the pairs not yet played."""
        return self._pairs[self._next :]

    def assert_done(self) -> None:
        """Fail if pairs are left or a reply was not read: the driver did less than scripted."""
        self._require_read()
        if self._next < len(self._pairs):
            left = "\n".join(f"  [{self._next + i}] {p!r}" for i, p in enumerate(self.remaining))
            raise AssertionError(f"replay: {len(self.remaining)} pair(s) never played:\n{left}")

    # -- the Transport interface ---------------------------------------------------------------

    def write(self, command: str) -> None:
        """Check command against the script's next pair; a query's reply waits for receive()."""
        self._require_read()
        if "?" not in command:
            self.settings_sent += 1
        self._reading = None
        reply = self._expect(command, "write")
        if reply is not None or self._reply_pair_follows():
            self._unread = (command, reply)

    def receive(self, command: str) -> str:
        """Return the scripted text reply to command, written just before."""
        unread, self._unread = self._unread, None
        if unread is None and self._reading is not None and self._reply_pair_follows():
            unread = (command, None)  # a further line: the reply to a query sent as a write
        if unread is None or unread[0] != command:
            raise AssertionError(
                f"replay step {self._next}: driver read a reply to {command!r}, but its last "
                f"exchange was {unread[0] if unread else 'no query'!r}"
            )
        reply = unread[1]
        if reply is None:
            _, reply = self._take("read", None)
            self._raise_if_error(reply)
            self._reading = command
        if not isinstance(reply, str):
            raise AssertionError(
                f"replay step {self._next - 1}: text query {command!r} got scripted {reply!r}"
            )
        scpi_log.debug("<- %s", reply)
        return reply

    def query(self, command: str) -> str:
        """Check command against the script and return the scripted text reply."""
        self._require_read()
        self._reading = None
        reply = self._reply_for(command, "query")
        if not isinstance(reply, str):
            raise AssertionError(
                f"replay step {self._next - 1}: text query {command!r} got scripted {reply!r}"
            )
        scpi_log.debug("<- %s", reply)
        return reply

    def query_block(self, command: str, timeout_s: float, *,
                    expected_bytes: int | None = None) -> bytes:
        """Check command against the script and return the payload of the scripted block."""
        self._require_read()
        self._reading = None
        reply = self._reply_for(command, "binary query")
        if not isinstance(reply, bytes):
            raise AssertionError(
                f"replay step {self._next - 1}: binary query {command!r} got scripted {reply!r}"
            )
        payload = self._unframe(command, reply)
        scpi_log.debug("<- #block %d bytes", len(payload))
        return payload

    def query_text(self, command: str, timeout_s: float, *, max_bytes: int) -> str:
        """Check command against the script and return the scripted (long) text reply."""
        reply = self.query(command)
        if len(reply) > max_bytes:
            self.close()
            raise LinkError(self.address, LinkFailure.GARBLED,
                            f"to {command!r}: a reply longer than {max_bytes} bytes")
        return reply

    # -- helpers -------------------------------------------------------------------------------

    def _require_read(self) -> None:
        """Fail if the driver moves on without reading the reply to its last query."""
        if self._unread is not None:
            command, reply = self._unread
            raise AssertionError(
                f"replay step {self._next}: driver wrote {command!r} without reading, but the "
                f"script has a reply {reply!r} (a query was expected)"
            )

    def _reply_pair_follows(self) -> bool:
        """Return True if the next pair is a reply of its own, (None, reply)."""
        return self._next < len(self._pairs) and self._pairs[self._next][0] is None

    def _require_open(self, command: str) -> None:
        if not self._open:
            raise LinkError(self.address, LinkFailure.NOT_OPEN, f"(cannot send {command!r})")

    def _take(self, what: str, command: str | None) -> tuple[str | None, Reply]:
        if self._next >= len(self._pairs):
            raise AssertionError(
                f"replay: unexpected {what} {command!r} after the end of the script "
                f"({len(self._pairs)} pairs)"
            )
        pair = self._pairs[self._next]
        self._next += 1
        return pair

    def _expect(self, command: str, what: str) -> Reply:
        self._require_open(command)
        scpi_log.debug("-> %s", command)
        expected, reply = self._take(what, command)
        if expected != command:
            raise AssertionError(
                f"replay step {self._next - 1}: expected {expected!r}, driver sent {command!r}"
            )
        self._raise_if_error(reply)
        return reply

    def _reply_for(self, command: str, what: str) -> Reply:
        reply = self._expect(command, what)
        if reply is None:
            # PyMeasure style: the reply may follow as its own (None, reply) pair.
            if self._next < len(self._pairs) and self._pairs[self._next][0] is None:
                _, reply = self._take("read", None)
                self._raise_if_error(reply)
            else:
                raise AssertionError(
                    f"replay step {self._next - 1}: driver read a reply to {command!r}, "
                    "but the script has it as a write"
                )
        return reply

    def _raise_if_error(self, reply: Any) -> None:
        if isinstance(reply, BaseException):
            # The real transport closes its session on every failure.
            self.close()
            raise reply

    def _unframe(self, command: str, data: bytes) -> bytes:
        """Return the payload of an IEEE block; GARBLED LinkError if it is not one."""

        def garbled(why: str) -> LinkError:
            self.close()
            return LinkError(self.address, LinkFailure.GARBLED, f"to {command!r}: {why}")

        body = data.lstrip()
        if body[:1] != b"#" or not body[1:2].isdigit():
            raise garbled(f"{data[:12]!r} is not a binary block")
        digits = int(body[1:2])
        if digits == 0:
            return body[2:].removesuffix(b"\n").removesuffix(b"\r")
        length_text = body[2 : 2 + digits]
        if not length_text.isdigit():
            raise garbled(f"block length {length_text!r} is not a number")
        start = 2 + digits
        end = start + int(length_text)
        if len(body) < end:
            raise garbled(f"block of {len(body) - start} bytes, header says {int(length_text)}")
        if body[end:] not in (b"", b"\n", b"\r\n"):
            raise garbled(f"{body[end : end + 8]!r} after the binary block")
        return body[start:end]


@contextmanager
def expected_protocol(
    exchange: Exchange, *, connect: bool = False, **ctp10_kwargs: Any
) -> Iterator[CTP10]:
    """Yield a CTP10 on a ReplayTransport (opened; connect() run if asked) and assert all played."""
    transport = ReplayTransport(exchange)
    instrument = CTP10(transport, **ctp10_kwargs)
    if connect:
        instrument.connect()
    else:
        transport.open()
    yield instrument
    # Reached only when the body did not raise: a failure inside must not be masked by leftovers.
    transport.assert_done()
