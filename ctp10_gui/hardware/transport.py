"""Carry bytes to a CTP10: a pyvisa-py raw-socket session, bounded timeouts, one error type.

Every failure (timeout, broken pipe, reset, refused, a silent host, a garbled reply) becomes a
:class:`LinkError` naming the address, and the session is closed at once: pyvisa-py's ``clear()``
loops forever on a dead peer and a late reply would be read as the answer to the next query, so a
failed session is never cleared or reused. The caller reconnects.

All SCPI traffic is logged here (and in the replay transport), on the ``ctp10_gui.scpi`` logger.
A session belongs to the thread that opened it: pyvisa-py breaks a reader when another thread
closes its socket.
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
from typing import Protocol, runtime_checkable

import pyvisa
from pyvisa import constants
from pyvisa.errors import VisaIOError

from ctp10_gui.hardware.errors import LinkError, LinkFailure

__all__ = [
    "DEFAULT_PORT",
    "Transport",
    "VisaTransport",
    "close_resource_manager",
    "host_port",
    "parse_address",
    "resource_manager",
]

DEFAULT_PORT = 5025
TERMINATION = "\r\n"
# A CR LF that follows a binary block arrives with the block's last segment; waiting longer
# than this for it only slows instruments that send no trailer.
BLOCK_TRAILER_WAIT_S = 0.05
# pyvisa-py receives 4 KiB per recv() and pyvisa 20 KiB per read call by default; larger pieces
# make a 3.8 MB trace block about 3x faster on loopback (16.6 -> 5.5 ms measured).
RECV_SIZE = 64 * 1024
BLOCK_CHUNK = 1024 * 1024
# Whitespace an instrument may put before '#'; more than this is not a block.
_MAX_BLOCK_PREAMBLE = 16

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

    def query_block(self, command: str, timeout_s: float) -> bytes:
        """Send one command and return the payload of its IEEE 488.2 block reply, in timeout_s s."""
        ...


class VisaTransport(Transport):
    """Talk to a CTP10 over pyvisa-py's raw TCP socket with bounded open and I/O timeouts."""

    def __init__(
        self, address: str, *, io_timeout_s: float = 1.0, open_timeout_s: float = 2.0
    ) -> None:
        try:
            self.address = parse_address(address)
        except (ValueError, TypeError) as exc:
            raise LinkError(str(address), LinkFailure.BAD_ADDRESS, f"({exc})") from exc
        if not io_timeout_s > 0 or not open_timeout_s > 0:
            raise ValueError("timeouts must be positive seconds")
        self.io_timeout_s = float(io_timeout_s)
        self.open_timeout_s = float(open_timeout_s)
        self._resource: pyvisa.resources.MessageBasedResource | None = None
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
        """Open the socket session within open_timeout_s s; raise LinkError if it cannot."""
        # One client at a time may be all the CTP10 allows: drop ours before asking again.
        self.close()
        try:
            resource = resource_manager().open_resource(
                self.address,
                open_timeout=round(self.open_timeout_s * 1000),
                timeout=round(self.io_timeout_s * 1000),
                read_termination=TERMINATION,
                write_termination=TERMINATION,
            )
        except Exception as exc:  # pyvisa-py raises a bare Exception("could not connect: …")
            raise self._open_failure(exc) from exc
        self._resource = resource
        self._late_trailer_possible = False
        # pyvisa-py reports success on a refused or unroutable port; the socket knows better.
        sock = self._socket()
        if sock is not None:
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                self.close()
                if code == errno.ECONNREFUSED:
                    raise LinkError(self.address, LinkFailure.REFUSED, _NOTHING_LISTENS)
                raise LinkError(self.address, LinkFailure.UNREACHABLE, f"({_strerror(code)})")
        session = self._session()
        if session is not None and hasattr(session, "max_recv_size"):
            session.max_recv_size = RECV_SIZE
        scpi_log.debug("opened %s", self.address)

    def close(self) -> None:
        """Close the session; idempotent, never raises (a failure to close is logged)."""
        resource, self._resource = self._resource, None
        if resource is None:
            return
        try:
            resource.close()
        except Exception:  # the socket may already be gone; closing must still succeed
            log.warning("closing the session to %s failed", self.address, exc_info=True)
        scpi_log.debug("closed %s", self.address)

    def _session(self) -> object | None:
        """Return pyvisa-py's session object of the open resource, or None if unreachable."""
        resource = self._resource
        if resource is None:
            return None
        try:
            return resource.visalib.sessions[resource.session]  # type: ignore[attr-defined]
        except (AttributeError, KeyError, TypeError):
            return None

    def _socket(self) -> socket.socket | None:
        """Return pyvisa-py's socket of the open session, or None if it is not reachable."""
        sock = getattr(self._session(), "interface", None)
        return sock if isinstance(sock, socket.socket) else None

    def _require(self, command: str) -> pyvisa.resources.MessageBasedResource:
        if self._resource is None:
            raise LinkError(self.address, LinkFailure.NOT_OPEN, f"(cannot send {command!r})")
        return self._resource

    # -- I/O ---------------------------------------------------------------------------------

    def write(self, command: str) -> None:
        """Send one command that has no reply; raise LinkError on failure."""
        resource = self._require(command)
        self._check_peer(command)
        scpi_log.debug("-> %s", command)
        try:
            resource.write(command)
        except Exception as exc:
            raise self._failure(exc, command, self.io_timeout_s) from exc

    def query(self, command: str) -> str:
        """Send one command and return its reply line (CR LF stripped) within io_timeout_s s."""
        self.write(command)
        return self.receive(command)

    def receive(self, command: str) -> str:
        """Read the reply line (CR LF stripped) to command, sent by write(), in io_timeout_s s."""
        resource = self._require(command)
        self._await_reply(command)
        try:
            raw = bytes(resource.read_raw())
            if self._late_trailer_possible and raw in (b"\r\n", b"\n"):
                # The CR LF of the previous binary block came after we stopped waiting for it.
                log.debug("skipped a late block trailer from %s", self.address)
                raw = bytes(resource.read_raw())
        except Exception as exc:
            raise self._failure(exc, command, self.io_timeout_s) from exc
        self._late_trailer_possible = False
        try:
            reply = raw.decode("ascii")
        except UnicodeDecodeError as exc:
            self.close()
            raise LinkError(
                self.address, LinkFailure.GARBLED, f"to {command!r}: {raw[:60]!r} is not text"
            ) from exc
        reply = reply.removesuffix("\n").removesuffix("\r")
        scpi_log.debug("<- %s", reply)
        return reply

    def query_block(self, command: str, timeout_s: float) -> bytes:
        """Send one command and return its definite-length block payload within timeout_s s."""
        resource = self._require(command)
        self._check_peer(command)
        scpi_log.debug("-> %s", command)
        try:
            resource.write(command)
            # Without the termination pyvisa-py reads the block in large chunks instead of
            # stopping at every 0x0A byte of the payload (13x faster).
            resource.read_termination = None
            resource.timeout = round(timeout_s * 1000)
            payload = self._read_block(resource, command)
            trailer = self._drain_trailer(resource, command)
        except LinkError:
            raise
        except Exception as exc:
            raise self._failure(exc, command, timeout_s) from exc
        finally:
            if self._resource is resource:
                try:
                    resource.read_termination = TERMINATION
                    resource.timeout = round(self.io_timeout_s * 1000)
                except Exception as exc:  # restoring failed: the session is no longer trusted
                    self.close()
                    raise LinkError(
                        self.address, LinkFailure.CLOSED, f"(could not restore settings: {exc})"
                    ) from exc
        self._late_trailer_possible = not trailer
        scpi_log.debug("<- #block %d bytes%s", len(payload), " + CR LF" if trailer else "")
        return payload

    def _read_block(self, resource: pyvisa.resources.MessageBasedResource, command: str) -> bytes:
        for _ in range(_MAX_BLOCK_PREAMBLE):
            first = resource.read_bytes(1)
            if first == b"#":
                break
            if not first.isspace():
                raise self._garbled(command, f"{first!r} where a binary block '#' was expected")
        else:
            raise self._garbled(command, "no binary block '#' in the first bytes")
        digits = resource.read_bytes(1)
        if not digits.isdigit():
            raise self._garbled(command, f"block header '#{digits.decode('latin-1')}' is invalid")
        if digits == b"0":
            # Indefinite-length block: it ends at the final LF, which cannot appear inside it.
            resource.read_termination = TERMINATION
            data = bytes(resource.read_raw())
            return data.removesuffix(b"\n").removesuffix(b"\r")
        length_text = resource.read_bytes(int(digits))
        if not length_text.isdigit():
            raise self._garbled(command, f"block length {length_text!r} is not a number")
        return bytes(resource.read_bytes(int(length_text), chunk_size=BLOCK_CHUNK))

    def _drain_trailer(self, resource: pyvisa.resources.MessageBasedResource, command: str) -> bool:
        """Consume an optional CR LF after a block; return True if one was there."""
        resource.timeout = round(BLOCK_TRAILER_WAIT_S * 1000)
        try:
            first = resource.read_bytes(1)
        except VisaIOError as exc:
            if exc.error_code != constants.StatusCode.error_timeout:
                raise
            return False
        if first == b"\n":
            return True
        if first != b"\r":
            raise self._garbled(command, f"{first!r} after the binary block")
        resource.timeout = round(self.io_timeout_s * 1000)
        second = resource.read_bytes(1)
        if second != b"\n":
            raise self._garbled(command, f"'\\r' {second!r} after the binary block")
        return True

    # -- error mapping ---------------------------------------------------------------------------

    def _garbled(self, command: str, what: str) -> LinkError:
        self.close()
        return LinkError(self.address, LinkFailure.GARBLED, f"to {command!r}: {what}")

    def _check_peer(self, command: str) -> None:
        """Raise LinkError at once if the peer already closed or reset the connection.

        pyvisa-py's read spins on a socket closed by the peer until the I/O timeout, taking
        the GIL on every turn: the GUI thread then stalls 70–150 ms per fault (measured). A FIN
        almost always arrives between two queries, so one select() + MSG_PEEK (a few µs)
        before sending turns that spin into an immediate, correctly named failure.
        """
        sock = self._socket()
        if sock is None:
            return
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            if not readable or sock.recv(1, socket.MSG_PEEK) != b"":
                return  # quiet, or bytes waiting: the query itself deals with those
            kind, detail = LinkFailure.CLOSED, f"before sending {command!r}"
        except ConnectionResetError:
            kind, detail = LinkFailure.RESET, f"before sending {command!r}"
        except OSError as exc:
            kind, detail = LinkFailure.CLOSED, f"before sending {command!r} ({exc.strerror})"
        self.close()
        error = LinkError(self.address, kind, detail)
        log.warning("%s", error)
        raise error

    def _await_reply(self, command: str) -> None:
        """Wait, GIL released, for the reply to start; LinkError if the peer closes or is silent.

        The same pyvisa-py spin as in _check_peer, for a FIN that lands while a reply is
        awaited: at the maximum poll rate that is nearly all the time, and the GUI stalled
        143 ms (measured). select() + MSG_PEEK tells a reply from a closed connection before
        pyvisa-py reads.
        """
        session = self._session()
        sock = getattr(session, "interface", None)
        if not isinstance(sock, socket.socket) or getattr(session, "_pending_buffer", b"?"):
            return  # pyvisa-py already holds bytes of the reply (or is not a socket session)
        try:
            readable, _, _ = select.select([sock], [], [], self.io_timeout_s)
            if readable and sock.recv(1, socket.MSG_PEEK) != b"":
                return  # the reply is coming: pyvisa-py reads it
            if readable:
                kind, detail = LinkFailure.CLOSED, f"while waiting for the reply to {command!r}"
            else:
                kind, detail = LinkFailure.TIMEOUT, f"within {self.io_timeout_s:g} s to {command!r}"
        except ConnectionResetError:
            kind, detail = LinkFailure.RESET, f"while waiting for the reply to {command!r}"
        except OSError as exc:
            kind = LinkFailure.CLOSED
            detail = f"while waiting for the reply to {command!r} ({exc.strerror})"
        self.close()
        error = LinkError(self.address, kind, detail)
        log.warning("%s", error)
        raise error

    def _peer_closed(self) -> bool:
        """Return True if the peer has closed its side (FIN) of the open session."""
        sock = self._socket()
        if sock is None:
            return False
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _failure(self, exc: BaseException, command: str, timeout_s: float) -> LinkError:
        """Close the session and translate exc into a LinkError that says what happened."""
        kind, detail = _classify(exc, command, timeout_s)
        if kind is LinkFailure.TIMEOUT and self._peer_closed():
            # pyvisa-py spins on a closed socket until the timeout: tell the user the real cause.
            kind, detail = LinkFailure.CLOSED, f"while waiting for the reply to {command!r}"
        self.close()
        error = LinkError(self.address, kind, detail)
        log.warning("%s", error)
        return error

    def _open_failure(self, exc: BaseException) -> LinkError:
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
        elif "Name or service not known" in text or "getaddrinfo" in text or "nodename" in text:
            detail, kind = "(host name not found)", LinkFailure.UNREACHABLE
        elif isinstance(exc, ConnectionRefusedError) or "refused" in text.lower():
            detail, kind = _NOTHING_LISTENS, LinkFailure.REFUSED
        else:
            reason = text.removeprefix("could not connect: ") or type(exc).__name__
            detail, kind = f"({reason})", LinkFailure.UNREACHABLE
        error = LinkError(self.address, kind, detail)
        log.warning("%s", error)
        return error


def _strerror(code: int) -> str:
    try:
        return os.strerror(code)
    except ValueError:
        return f"errno {code}"


def _classify(exc: BaseException, command: str, timeout_s: float) -> tuple[LinkFailure, str]:
    """Return the failure kind and the detail sentence for an exception raised during I/O."""
    during = f"while sending {command!r}"
    if isinstance(exc, VisaIOError):
        if exc.error_code == constants.StatusCode.error_timeout:
            return LinkFailure.TIMEOUT, f"within {timeout_s:g} s to {command!r}"
        return LinkFailure.CLOSED, f"{during} ({exc.abbreviation})"
    if isinstance(exc, ConnectionRefusedError):
        return LinkFailure.REFUSED, during
    if isinstance(exc, ConnectionResetError | ConnectionAbortedError):
        return LinkFailure.RESET, during
    if isinstance(exc, BrokenPipeError):
        return LinkFailure.CLOSED, f"{during} (the connection was already gone)"
    if isinstance(exc, TimeoutError):
        return LinkFailure.TIMEOUT, f"within {timeout_s:g} s to {command!r}"
    if isinstance(exc, OSError):
        if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN):
            return LinkFailure.UNREACHABLE, f"{during} ({exc.strerror})"
        return LinkFailure.CLOSED, f"{during} ({exc.strerror or exc})"
    if isinstance(exc, UnicodeError):
        return LinkFailure.GARBLED, f"to {command!r} (not text)"
    # pyvisa-py raises TypeError/AttributeError when its socket vanished under it.
    return LinkFailure.CLOSED, f"{during} ({type(exc).__name__}: {exc})"
