"""Carry bytes to a CTP10: a pyvisa-py raw-socket session, bounded replies, one error type.

pyvisa-py connects the socket; the replies are read here (``socket_reader``) because pyvisa-py
bounds only the wait for a reply's first byte and buffers without limit. Every reply has one
deadline from the first byte to the last and a size limit, the host name is looked up on a
helper thread within the open timeout, and ``abort()`` (any thread) shuts the socket down so a
blocked read returns at once.

Every failure (timeout, broken pipe, reset, refused, a silent host, a garbled or oversized
reply) becomes a :class:`LinkError` naming the address and the query, and the session is closed
at once: a late reply would be read as the answer to the next query, so a failed session is
never cleared or reused. The caller reconnects.

All SCPI traffic is logged here (and in the replay transport), on the ``ctp10_gui.scpi`` logger,
control characters escaped. A session belongs to the thread that opened it; only ``abort()``
may be called from another.
"""

from __future__ import annotations

import atexit
import errno
import logging
import os
import re
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import Protocol, TypeVar, runtime_checkable

import pyvisa
from pyvisa import constants

from ctp10_gui.hardware.errors import LinkError, LinkFailure
from ctp10_gui.hardware.instrument_text import printable
from ctp10_gui.hardware.socket_reader import (
    DeadlineExceeded,
    PeerClosed,
    ReplyTooLong,
    SocketReader,
)

__all__ = [
    "DEFAULT_PORT",
    "MAX_BLOCK_BYTES",
    "MAX_LINE_BYTES",
    "Resolver",
    "Transport",
    "VisaTransport",
    "close_resource_manager",
    "host_port",
    "parse_address",
    "resource_manager",
    "system_resolver",
]

T = TypeVar("T")
Resolver = Callable[[str, int], str]  # (host, port) -> IPv4 address text; may block

DEFAULT_PORT = 5025
TERMINATION = "\r\n"
# A CR LF after a binary block is taken only if it has already arrived: instruments that send
# none (the outside evidence says a CTP10 may not) must not cost a wait per block, and a
# trailer that comes later is skipped before the next reply is read.
BLOCK_TRAILER_WAIT_S = 0.0
# The longest legitimate text reply (traces come as binary blocks): anything longer is garbage.
MAX_LINE_BYTES = 64 * 1024
# A block whose size the caller did not give: 22 M float64 points, a full 1240–1680 nm X axis
# at 0.02 pm, is 176 MB.
MAX_BLOCK_BYTES = 256 * 1024 * 1024
# The slowest transfer rate a block payload may take before it counts as stalled (bytes/s).
MIN_BLOCK_RATE = 1_000_000
SEND_CHUNK = 4096
# Whitespace an instrument may put before '#'; more than this is not a block.
_MAX_BLOCK_PREAMBLE = 16
# Instrument text in a log line: enough for any sane reply, never a 64 kB flood.
LOG_TEXT_LIMIT = 400

scpi_log = logging.getLogger("ctp10_gui.scpi")
log = logging.getLogger(__name__)

_NOTHING_LISTENS = "(nothing listens on that port)"
_EXAMPLES = "use e.g. 10.0.0.5, 10.0.0.5:5025, lab-ctp10 or TCPIP::10.0.0.5::5025::SOCKET"
_VISA = re.compile(r"^tcpip(?P<board>\d*)::(?P<rest>.*)$", re.IGNORECASE)
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def _bad(text: str, why: str) -> ValueError:
    return ValueError(f"{text!r} is not an instrument address: {why}; {_EXAMPLES}.")


def _check_host(text: str, host: str) -> str:
    if not host:
        raise _bad(text, "the host name is missing")
    if host.startswith("[") or host.count(":") >= 2:
        raise _bad(text, "IPv6 addresses are not supported by the raw-socket driver")
    if re.fullmatch(r"[0-9.]+", host):
        parts = host.split(".")
        if len(parts) != 4 or not all(p.isdigit() and int(p) <= 255 for p in parts):
            raise _bad(text, f"{host!r} is not a valid IPv4 address (four numbers 0–255)")
        return host
    if len(host) > 253 or not all(_HOST_LABEL.match(label) for label in host.split(".")):
        raise _bad(text, f"{host!r} is not a valid host name (letters, digits, '-' and '.')")
    return host


def _check_port(text: str, port: str) -> int:
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise _bad(text, f"the port must be a number from 1 to 65535, not {port!r}")
    return int(port)


def parse_address(text: str) -> str:
    """Return the canonical "TCPIP::<host>::<port>::SOCKET" for a host, host:port or VISA name."""
    if not isinstance(text, str):
        raise TypeError(f"an instrument address is text, not {type(text).__name__}")
    stripped = text.strip()
    if not stripped:
        raise ValueError(f"the instrument address is empty; {_EXAMPLES}.")
    if any(ch.isspace() for ch in stripped):
        raise _bad(text, "it contains spaces")
    visa = _VISA.match(stripped)
    if visa:
        fields = visa["rest"].split("::")
        if len(fields) == 2 and fields[1].upper() == "SOCKET":
            raise _bad(text, "the port is missing (the CTP10 listens on 5025)")
        if len(fields) != 3 or fields[2].upper() != "SOCKET":
            raise _bad(text, "the CTP10 is driven over a raw socket: TCPIP::<host>::<port>::SOCKET")
        host = _check_host(text, fields[0])
        port = _check_port(text, fields[1])
        return f"TCPIP::{host}::{port}::SOCKET"
    if "://" in stripped or "/" in stripped:
        raise _bad(text, "give a host name or IP address, not a URL")
    if stripped.count(":") >= 2 or stripped.startswith("["):
        raise _bad(text, "IPv6 addresses are not supported by the raw-socket driver")
    host, sep, port_text = stripped.partition(":")
    port = _check_port(text, port_text) if sep else DEFAULT_PORT
    return f"TCPIP::{_check_host(text, host)}::{port}::SOCKET"


def host_port(address: str) -> tuple[str, int]:
    """Return (host, port) of an address in any form parse_address accepts."""
    _, host, port, _ = parse_address(address).split("::")
    return host, int(port)


_rm: pyvisa.ResourceManager | None = None
_rm_lock = threading.Lock()
_atexit_registered = False


def resource_manager() -> pyvisa.ResourceManager:
    """Return the process's one pyvisa-py ("@py") ResourceManager, created on first use."""
    global _rm, _atexit_registered
    with _rm_lock:
        if _rm is None:
            _rm = pyvisa.ResourceManager("@py")
            if not _atexit_registered:
                atexit.register(close_resource_manager)
                _atexit_registered = True
        return _rm


def close_resource_manager() -> None:
    """Close the shared ResourceManager (and any session still open through it); idempotent."""
    global _rm
    with _rm_lock:
        rm, _rm = _rm, None
    if rm is None:
        return
    try:
        rm.close()
    except Exception:  # closing at exit must not raise; the failure is still worth a line
        log.warning("closing the VISA resource manager failed", exc_info=True)


@runtime_checkable
class Transport(Protocol):
    """Carry SCPI text and binary blocks to one instrument; raise LinkError on any failure."""

    address: str
    io_timeout_s: float
    settings_sent: int  # commands without a query ("?") sent since the transport was made

    @property
    def is_open(self) -> bool:
        """Return True while a session is open."""
        ...

    def open(self) -> None:
        """Open a session (closing any previous one); raise LinkError."""
        ...

    def close(self) -> None:
        """Close the session; idempotent, never raises."""
        ...

    def write(self, command: str) -> None:
        """Send one command that has no reply."""
        ...

    def query(self, command: str) -> str:
        """Send one command and return its reply line without CR LF."""
        ...

    def receive(self, command: str) -> str:
        """Read the reply line to command, sent by write() just before; without CR LF.

        write() then receive() is query() split in two, so that the caller can work while the
        instrument answers; nothing else may use the session in between.
        """
        ...

    def query_block(self, command: str, timeout_s: float, *,
                    expected_bytes: int | None = None) -> bytes:
        """Send command; return its IEEE 488.2 block payload (≤ expected_bytes) in timeout_s s."""
        ...

    def query_text(self, command: str, timeout_s: float, *, max_bytes: int) -> str:
        """Send command; return one long reply line (≤ max_bytes, e.g. an ASCII trace)."""
        ...

    def abort(self) -> None:
        """Break the I/O in progress from any thread; the session then fails and is closed."""
        ...


class VisaTransport(Transport):
    """Talk to a CTP10 over a pyvisa-py raw TCP socket; every reply bounded in time and size."""

    def __init__(
        self,
        address: str,
        *,
        io_timeout_s: float = 1.0,
        open_timeout_s: float = 2.0,
        resolver: Resolver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        try:
            self.address = parse_address(address)
        except (ValueError, TypeError) as exc:
            raise LinkError(str(address), LinkFailure.BAD_ADDRESS, f"({exc})") from exc
        if not io_timeout_s > 0 or not open_timeout_s > 0:
            raise ValueError("timeouts must be positive seconds")
        self.io_timeout_s = float(io_timeout_s)
        self.open_timeout_s = float(open_timeout_s)
        self.settings_sent = 0
        self._resolver = resolver or system_resolver
        self._clock = clock
        self._resource: pyvisa.resources.Resource | None = None
        self._reader: SocketReader | None = None
        # Shared with abort(), which any thread may call: guarded by _abort_lock.
        self._abort_lock = threading.Lock()
        self._aborted = threading.Event()
        self._sock: socket.socket | None = None
        self._resolving: threading.Event | None = None
        # Set after a block with no CR LF trailer: a trailer that arrives later than the short
        # wait would otherwise be read as an empty answer to the next query.
        self._late_trailer_possible = False

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"VisaTransport({self.address!r}, {state})"

    @property
    def is_open(self) -> bool:
        """Return True while a session is open."""
        return self._resource is not None

    # -- session -------------------------------------------------------------------------------

    def open(self) -> None:
        """Resolve, connect and open the session within open_timeout_s s; raise LinkError."""
        # One client at a time may be all the CTP10 allows: drop ours before asking again.
        self.close()
        self._raise_if_aborted("before connecting")
        deadline = self._clock() + self.open_timeout_s
        host, port = host_port(self.address)
        ip = self._resolve(host, port, deadline)
        remaining_ms = max(1, round((deadline - self._clock()) * 1000))
        try:
            resource = resource_manager().open_resource(
                f"TCPIP::{ip}::{port}::SOCKET",
                open_timeout=remaining_ms,
                timeout=round(self.io_timeout_s * 1000),
                read_termination=TERMINATION,
                write_termination=TERMINATION,
            )
        except Exception as exc:  # pyvisa-py raises a bare Exception("could not connect: …")
            raise self._open_failure(exc) from exc
        self._resource = resource
        self._late_trailer_possible = False
        sock = self._socket()
        if sock is None:
            self.close()
            raise LinkError(self.address, LinkFailure.CLOSED, "(pyvisa-py gave no socket)")
        with self._abort_lock:
            self._sock = sock
        self._reader = SocketReader(sock, self._clock)
        self._raise_if_aborted("while connecting")
        # pyvisa-py reports success on a refused or unroutable port; the socket knows better.
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self.close()
            if code == errno.ECONNREFUSED:
                raise LinkError(self.address, LinkFailure.REFUSED, _NOTHING_LISTENS)
            raise LinkError(self.address, LinkFailure.UNREACHABLE, f"({_strerror(code)})")
        # A message written right after another with no reply between (a set and its SYST:ERR?,
        # an inventory probe and its *IDN? marker) must not wait for the instrument's delayed
        # ACK of the first (Nagle): 40 ms each time on loopback.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        scpi_log.debug("opened %s", self.address)

    def _resolve(self, host: str, port: int, deadline: float) -> str:
        """Return host's IPv4 address, asked on a helper thread and awaited until deadline."""
        if re.fullmatch(r"[0-9.]+", host):
            return host
        done = threading.Event()
        answer: list[str | BaseException] = []

        def ask() -> None:
            try:
                answer.append(self._resolver(host, port))
            except BaseException as exc:  # handed to the waiting thread, which reports it
                answer.append(exc)
            done.set()

        with self._abort_lock:
            self._resolving = done
            if self._aborted.is_set():  # aborted before the lookup could be cancelled
                done.set()
        # A daemon: a resolver that never answers must not keep the process alive.
        threading.Thread(target=ask, name=f"resolve {host}", daemon=True).start()
        try:
            done.wait(max(0.0, deadline - self._clock()))
        finally:
            with self._abort_lock:
                self._resolving = None
        self._raise_if_aborted(f"while looking up {host!r}")
        if not answer:
            error = LinkError(self.address, LinkFailure.UNREACHABLE,
                              f"(no answer looking up {host!r} within "
                              f"{self.open_timeout_s:g} s)")
            log.warning("%s", error)
            raise error
        result = answer[0]
        if isinstance(result, BaseException):
            error = LinkError(self.address, LinkFailure.UNREACHABLE, "(host name not found)")
            log.warning("%s (%s)", error, result)
            raise error from result
        return result

    def abort(self) -> None:
        """Break any I/O in progress at once (from any thread); the session is then unusable.

        shutdown() (never close(): the owning thread may be inside a call on the socket) makes
        a blocked select()/recv() return end-of-stream, so the owner fails with LinkError now
        instead of at its deadline and closes the session itself.
        """
        # Under the lock close() also takes: the socket cannot be closed (and its descriptor
        # reused by another connection) between looking it up and shutting it down.
        with self._abort_lock:
            self._aborted.set()
            if self._resolving is not None:
                self._resolving.set()
            if self._sock is not None:
                try:
                    self._sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # already shut down or reset: nothing left to break

    def _raise_if_aborted(self, when: str) -> None:
        if self._aborted.is_set():
            self.close()
            raise LinkError(self.address, LinkFailure.NOT_OPEN,
                            f"(closed by the application {when})")

    def close(self) -> None:
        """Close the session; idempotent, never raises (a failure to close is logged)."""
        self._reader = None
        with self._abort_lock:
            self._sock = None
            resource, self._resource = self._resource, None
            if resource is None:
                return
            try:
                resource.close()
            except Exception:  # the socket may already be gone; closing must still succeed
                log.warning("closing the session to %s failed", self.address, exc_info=True)
        scpi_log.debug("closed %s", self.address)

    def _socket(self) -> socket.socket | None:
        """Return pyvisa-py's socket of the open session, or None if it is not reachable."""
        resource = self._resource
        if resource is None:
            return None
        try:
            session = resource.visalib.sessions[resource.session]  # type: ignore[attr-defined]
        except (AttributeError, KeyError, TypeError):
            return None
        sock = getattr(session, "interface", None)
        return sock if isinstance(sock, socket.socket) else None

    def _require(self, command: str) -> SocketReader:
        reader = self._reader
        if reader is None:
            self._raise_if_aborted(f"before sending {command!r}")
            raise LinkError(self.address, LinkFailure.NOT_OPEN, f"(cannot send {command!r})")
        return reader

    # -- I/O ---------------------------------------------------------------------------------

    def write(self, command: str) -> None:
        """Send one command that has no reply, within io_timeout_s s; raise LinkError."""
        self._require(command)
        self._check_peer(command)
        if scpi_log.isEnabledFor(logging.DEBUG):  # escaping costs more than the send
            scpi_log.debug("-> %s", printable(command, LOG_TEXT_LIMIT))
        if "?" not in command:
            self.settings_sent += 1  # may change the instrument: see Transport.settings_sent
        self._send((command + TERMINATION).encode("ascii", "replace"), command)

    def _send(self, data: bytes, command: str) -> None:
        sock = self._sock
        if sock is None:
            raise self._closed_under_us(command)
        deadline = self._clock() + self.io_timeout_s
        view = memoryview(data)
        sent = 0
        try:
            while sent < len(data):
                remaining = deadline - self._clock()
                writable = select.select([], [sock], [], max(0.0, remaining))[1]
                if not writable:
                    raise self._fail(LinkFailure.TIMEOUT,
                                     f"the instrument took no more of "
                                     f"'{printable(command, LOG_TEXT_LIMIT)}' within "
                                     f"{self.io_timeout_s:g} s")
                sent += sock.send(view[sent : sent + SEND_CHUNK])
        except LinkError:
            raise
        except (OSError, ValueError) as exc:
            raise self._failure(exc, command) from exc

    def query(self, command: str) -> str:
        """Send one command and return its reply line (CR LF stripped) within io_timeout_s s."""
        self.write(command)
        return self.receive(command)

    def receive(self, command: str) -> str:
        """Read the reply line (CR LF stripped) to command, first to last byte in io_timeout_s s."""
        return self._receive_line(command, self.io_timeout_s, MAX_LINE_BYTES)

    def query_text(self, command: str, timeout_s: float, *, max_bytes: int) -> str:
        """Send command; return its reply line (≤ max_bytes, CR LF stripped) within timeout_s s."""
        self.write(command)
        return self._receive_line(command, timeout_s, max_bytes)

    def _receive_line(self, command: str, timeout_s: float, limit: int) -> str:
        reader = self._require(command)
        deadline = self._clock() + timeout_s
        raw = self._read(lambda: reader.line(deadline, limit), command, timeout_s)
        if self._late_trailer_possible and raw in (b"\r\n", b"\n"):
            # The CR LF of the previous binary block came after we stopped waiting for it.
            log.debug("skipped a late block trailer from %s", self.address)
            raw = self._read(lambda: reader.line(deadline, limit), command, timeout_s)
        self._late_trailer_possible = False
        try:
            reply = raw.decode("ascii")
        except UnicodeDecodeError as exc:
            raise self._garbled(command, f"{raw[:60]!r} is not text") from exc
        reply = reply.removesuffix("\n").removesuffix("\r")
        if scpi_log.isEnabledFor(logging.DEBUG):
            scpi_log.debug("<- %s", printable(reply, LOG_TEXT_LIMIT))
        return reply

    def query_block(self, command: str, timeout_s: float, *,
                    expected_bytes: int | None = None) -> bytes:
        """Send command; return its IEEE 488.2 block payload (≤ expected_bytes, in timeout_s s).

        The payload deadline is scaled to the size the header announces (io_timeout_s plus
        MIN_BLOCK_RATE bytes/s), within timeout_s; a header announcing more than expected_bytes
        (or MAX_BLOCK_BYTES) is refused before the payload is read.
        """
        reader = self._require(command)
        limit = MAX_BLOCK_BYTES if expected_bytes is None else int(expected_bytes)
        self.write(command)
        deadline = self._clock() + timeout_s
        payload = self._read(lambda: self._read_block(reader, command, limit, timeout_s, deadline),
                             command, timeout_s)
        trailer = self._read(lambda: self._drain_trailer(reader, command), command,
                             self.io_timeout_s)
        self._late_trailer_possible = not trailer
        scpi_log.debug("<- #block %d bytes%s", len(payload), " + CR LF" if trailer else "")
        return payload

    def _read_block(self, reader: SocketReader, command: str, limit: int, timeout_s: float,
                    deadline: float) -> bytes:
        for _ in range(_MAX_BLOCK_PREAMBLE):
            first = reader.byte(deadline)
            if first == b"#":
                break
            if not first.isspace():
                raise self._garbled(command, f"{first!r} where a binary block '#' was expected")
        else:
            raise self._garbled(command, "no binary block '#' in the first bytes")
        digits = reader.byte(deadline)
        if not digits.isdigit():
            raise self._garbled(command, f"block header '#{digits.decode('latin-1')}' is invalid")
        if digits == b"0":
            # Indefinite-length block: it ends at the final LF, which cannot appear inside it.
            data = reader.line(deadline, limit + len(TERMINATION))
            return data.removesuffix(b"\n").removesuffix(b"\r")
        length_text = reader.exact(int(digits), deadline)
        if not length_text.isdigit():
            raise self._garbled(command, f"block length {length_text!r} is not a number")
        count = int(length_text)
        if count > limit:
            raise self._garbled(command, f"a block of {count} bytes where at most {limit} "
                                         "were expected")
        now = self._clock()
        scaled_s = self.io_timeout_s + count / MIN_BLOCK_RATE
        # The caller's timeout (from the query) or the one scaled to the size (from the
        # header), whichever ends first; the message names that one.
        end, allowed_s = ((deadline, timeout_s) if deadline <= now + scaled_s
                          else (now + scaled_s, scaled_s))
        try:
            return reader.exact(count, end)
        except DeadlineExceeded as exc:
            raise self._fail(LinkFailure.TIMEOUT,
                             f"within {allowed_s:.3g} s to {command!r} (incomplete: only "
                             f"{exc.received} of {count} bytes of the block arrived)") from exc

    def _drain_trailer(self, reader: SocketReader, command: str) -> bool:
        """Consume an optional CR LF after a block; return True if one was there."""
        first = reader.peek_byte(BLOCK_TRAILER_WAIT_S)
        if not first:
            return False
        if first == b"\n":
            reader.byte(self._clock())
            return True
        if first != b"\r":
            raise self._garbled(command, f"{first!r} after the binary block")
        reader.byte(self._clock())
        second = reader.byte(self._clock() + self.io_timeout_s)
        if second != b"\n":
            raise self._garbled(command, f"'\\r' {second!r} after the binary block")
        return True

    def _read(self, step: Callable[[], T], command: str, total_s: float) -> T:
        """Run one bounded read step; turn its failures into LinkError naming command."""
        try:
            return step()
        except LinkError:
            raise
        except DeadlineExceeded as exc:
            if exc.received:
                raise self._fail(LinkFailure.TIMEOUT,
                                 f"within {total_s:g} s to {command!r} (incomplete: only "
                                 f"{exc.received} bytes of it arrived)") from exc
            raise self._fail(LinkFailure.TIMEOUT, f"within {total_s:g} s to {command!r}") from exc
        except ReplyTooLong as exc:
            raise self._garbled(command, f"a reply longer than {exc.limit} bytes") from exc
        except PeerClosed as exc:
            raise self._closed_under_us(command) from exc
        except OSError as exc:
            raise self._failure(exc, command, reading=True) from exc

    # -- error mapping ---------------------------------------------------------------------------

    def _closed_under_us(self, command: str) -> LinkError:
        if self._aborted.is_set():
            self.close()
            return LinkError(self.address, LinkFailure.NOT_OPEN,
                             f"(closed by the application while waiting for the reply to "
                             f"{command!r})")
        return self._fail(LinkFailure.CLOSED, f"while waiting for the reply to {command!r}")

    def _fail(self, kind: LinkFailure, detail: str) -> LinkError:
        self.close()
        error = LinkError(self.address, kind, detail)
        log.warning("%s", printable(str(error), LOG_TEXT_LIMIT))
        return error

    def _garbled(self, command: str, what: str) -> LinkError:
        self.close()
        return LinkError(self.address, LinkFailure.GARBLED,
                         f"to {command!r}: {printable(what, LOG_TEXT_LIMIT)}")

    def _check_peer(self, command: str) -> None:
        """Raise LinkError at once if the peer already closed or reset the connection.

        A FIN almost always arrives between two queries: one select() + MSG_PEEK (a few µs)
        before sending names that failure at once instead of after a write and a read.
        """
        sock = self._sock
        if sock is None:
            raise self._closed_under_us(command)
        reader = self._reader
        if reader is not None and reader.buffered:
            return  # bytes waiting: the query itself deals with those
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            if not readable or sock.recv(1, socket.MSG_PEEK) != b"":
                return  # quiet, or bytes waiting: the query itself deals with those
            kind, detail = LinkFailure.CLOSED, f"before sending {command!r}"
        except ConnectionResetError:
            kind, detail = LinkFailure.RESET, f"before sending {command!r}"
        except (OSError, ValueError) as exc:
            kind, detail = LinkFailure.CLOSED, f"before sending {command!r} ({exc})"
        if self._aborted.is_set():
            raise self._closed_under_us(command)
        raise self._fail(kind, detail)

    def _failure(self, exc: BaseException, command: str, *, reading: bool = False) -> LinkError:
        """Close the session and translate exc into a LinkError that says what happened."""
        if self._aborted.is_set():
            return self._closed_under_us(command)
        during = (f"while waiting for the reply to {command!r}" if reading
                  else f"while sending {command!r}")
        kind, detail = _classify(exc, during)
        return self._fail(kind, detail)

    def _open_failure(self, exc: BaseException) -> LinkError:
        if self._aborted.is_set():
            return LinkError(self.address, LinkFailure.NOT_OPEN,
                             "(closed by the application while connecting)")
        text = str(exc)
        # pyvisa-py words a connect timeout "could not connect: <StatusCode.error_timeout>",
        # printed by name or by number depending on the Python version.
        timeout_code = constants.StatusCode.error_timeout
        if (
            "error_timeout" in text
            or str(int(timeout_code)) in text
            or isinstance(exc, TimeoutError)
        ):
            detail = f"(no answer to the connection request within {self.open_timeout_s:g} s)"
            kind = LinkFailure.UNREACHABLE
        elif isinstance(exc, ConnectionRefusedError) or "refused" in text.lower():
            detail, kind = _NOTHING_LISTENS, LinkFailure.REFUSED
        else:
            reason = text.removeprefix("could not connect: ") or type(exc).__name__
            detail, kind = f"({reason})", LinkFailure.UNREACHABLE
        error = LinkError(self.address, kind, detail)
        log.warning("%s", error)
        return error


def system_resolver(host: str, port: int) -> str:
    """Return the first IPv4 address of host (blocks as long as the system resolver does)."""
    infos = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)
    return str(infos[0][4][0])


def _strerror(code: int) -> str:
    try:
        return os.strerror(code)
    except ValueError:
        return f"errno {code}"


def _classify(exc: BaseException, during: str) -> tuple[LinkFailure, str]:
    """Return the failure kind and the detail sentence for a socket error raised during I/O."""
    if isinstance(exc, ConnectionRefusedError):
        return LinkFailure.REFUSED, during
    if isinstance(exc, ConnectionResetError | ConnectionAbortedError):
        return LinkFailure.RESET, during
    if isinstance(exc, BrokenPipeError):
        return LinkFailure.CLOSED, f"{during} (the connection was already gone)"
    if isinstance(exc, OSError):
        if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN):
            return LinkFailure.UNREACHABLE, f"{during} ({exc.strerror})"
        return LinkFailure.CLOSED, f"{during} ({exc.strerror or exc})"
    # A socket closed under the call: ValueError (fileno -1) or the like.
    return LinkFailure.CLOSED, f"{during} ({type(exc).__name__}: {exc})"
