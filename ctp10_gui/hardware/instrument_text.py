"""Make text that came from an instrument safe to show in a label or write to a log line."""

from __future__ import annotations

__all__ = ["INSTRUMENT_TEXT_LIMIT", "printable"]

# An *IDN? or SYST:ERR? reply is a few dozen characters; anything beyond this is not worth a label.
INSTRUMENT_TEXT_LIMIT = 200
_ELLIPSIS = "…"


def _escape(ch: str) -> str:
    code = ord(ch)
    if ch == "\\":
        return "\\\\"
    if code < 0x20 or 0x7F <= code < 0xA0 or ch in "\u2028\u2029":
        return {"\r": "\\r", "\n": "\\n", "\t": "\\t"}.get(ch, f"\\x{code:02x}" if code < 0x100
                                                          else f"\\u{code:04x}")
    return ch


def printable(text: str, limit: int = INSTRUMENT_TEXT_LIMIT) -> str:
    """Return text with control characters escaped (\\r, \\x1b …), cut to `limit` (≥ 1) chars."""
    out: list[str] = []
    size = 0
    for ch in text:
        piece = _escape(ch)
        if size + len(piece) > limit:
            out.append(_ELLIPSIS)
            break
        out.append(piece)
        size += len(piece)
    return "".join(out)
