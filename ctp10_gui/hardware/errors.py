"""The project's exception types: one for the link, one for the instrument, one for bad input."""

from __future__ import annotations

import enum
import re


class CTP10Error(Exception):
    """Base of every project error."""


class LinkFailure(enum.Enum):
    """Name what went wrong with the connection, one member per user-visible cause."""

    REFUSED = "refused"
    TIMEOUT = "timeout"
    CLOSED = "closed"
    RESET = "reset"
    UNREACHABLE = "unreachable"
    GARBLED = "garbled"
    NOT_OPEN = "not open"
    WRONG_INSTRUMENT = "wrong instrument"
    BAD_ADDRESS = "bad address"


# The sentence opening each message; the detail completes it ("no reply from h:p" + " within …").
_OPENING: dict[LinkFailure, str] = {
    LinkFailure.REFUSED: "connection refused by {where}",
    LinkFailure.TIMEOUT: "no reply from {where}",
    LinkFailure.CLOSED: "connection closed by {where}",
    LinkFailure.RESET: "connection reset by {where}",
    LinkFailure.UNREACHABLE: "cannot reach {where}",
    LinkFailure.GARBLED: "garbled reply from {where}",
    LinkFailure.NOT_OPEN: "no open connection to {where}",
    LinkFailure.WRONG_INSTRUMENT: "{where} is not an EXFO CTP10",
    LinkFailure.BAD_ADDRESS: "bad instrument address {where}",
}

_VISA_SOCKET = re.compile(r"^tcpip\d*::(?P<host>[^:]+)::(?P<port>\d+)::socket$", re.IGNORECASE)


def short_address(address: str) -> str:
    """Return "host:port" for a VISA socket address, else the text as given (quoted if odd)."""
    match = _VISA_SOCKET.match(address.strip())
    if match:
        return f"{match['host']}:{match['port']}"
    return address if address and " " not in address else repr(address)


class LinkError(CTP10Error):
    """Report a failed connection or exchange; the session is already closed when raised."""

    def __init__(self, address: str, kind: LinkFailure, detail: str = "") -> None:
        self.address = address
        self.kind = kind
        self.detail = detail
        super().__init__(address, kind, detail)

    @property
    def where(self) -> str:
        """Return the "host:port" this error is about."""
        return short_address(self.address)

    def __str__(self) -> str:
        opening = _OPENING[self.kind].format(where=self.where)
        return f"{opening} {self.detail}" if self.detail else opening

    def __repr__(self) -> str:
        return f"LinkError({self.address!r}, {self.kind}, {self.detail!r})"


class InstrumentError(CTP10Error):
    """Report an error the CTP10 queued (SYST:ERR?) after a command the driver sent."""

    def __init__(self, code: int, text: str, command: str) -> None:
        self.code = code
        self.text = text
        self.command = command
        super().__init__(code, text, command)

    def __str__(self) -> str:
        return f'{self.code} "{self.text}" after "{self.command}"'


class OperationTimeoutError(CTP10Error, TimeoutError):
    """Report that the instrument stayed busy past a deadline while the link stayed fine."""


class OutOfRangeError(CTP10Error, ValueError):
    """Refuse a value before anything is sent; names the valid range."""

    def __init__(self, name: str, value: object, valid: str, reason: str = "") -> None:
        self.name = name
        self.value = value
        self.valid = valid
        self.reason = reason
        super().__init__(name, value, valid)

    def __str__(self) -> str:
        why = self.reason or "is out of range"
        return f"{self.name} = {self.value!r} {why}: valid is {self.valid}"


class NotAvailableError(CTP10Error, ValueError):
    """The instrument answered a setting read in step, but with no value (NaN, ±INF, 9.91E37,
    empty): that field has no value now; the link is fine."""

    def __init__(self, label: str, reply: str) -> None:
        self.label = label
        self.reply = reply
        super().__init__(f"{label}: not available (the instrument answered {reply!r})")


class MissingHardwareError(CTP10Error):
    """A part (detector module, laser position, TLS) does not answer while the link is fine."""

    def __init__(self, part: str, code: int | None, text: str, question: str = "") -> None:
        self.part = part
        self.code = code
        self.text = text
        self.question = question or "is it installed?"
        super().__init__(part, code, text)

    @classmethod
    def detector_module(cls, module: int, code: int, text: str) -> MissingHardwareError:
        """Return the error of a detector module slot (1–20) that queued code, text."""
        return cls(f"detector module {module}", code, text,
                   "is there a detector module in that slot?")

    def __str__(self) -> str:
        why = f"{self.code} {self.text}" if self.code is not None else self.text
        return f"{self.part} does not answer ({why}): {self.question}"


class TraceUnavailableError(InstrumentError):
    """A detector does not offer a trace type (-114): its module has no such trace."""

    def __init__(self, module: int, channel: int, trace_type: int, code: int, text: str,
                 command: str) -> None:
        self.module = module
        self.channel = channel
        self.trace_type = trace_type
        super().__init__(code, text, command)

    def __str__(self) -> str:
        return (f"module {self.module} channel {self.channel} offers no trace type "
                f"{self.trace_type} (the instrument answered {self.code} \"{self.text}\")")
