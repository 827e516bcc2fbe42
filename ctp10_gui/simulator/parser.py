"""SCPI text for the simulator: header patterns, message splitting, numbers with units, replies."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ctp10_gui.simulator.facts import SPEED_OF_LIGHT_M_S

ERROR_TEXTS: dict[int, str] = {
    -100: "Command error",
    -102: "Syntax error",
    -104: "Data type error",
    -108: "Parameter not allowed",
    -109: "Missing parameter",
    -113: "Undefined header",
    -114: "Header suffix out of range",
    -131: "Invalid suffix",
    -200: "Execution error",
    -213: "Init ignored",
    -221: "Settings conflict",
    -222: "Data out of range",
    -224: "Illegal parameter value",
    -241: "Hardware missing",
    -350: "Queue overflow",
}


class ScpiError(Exception):
    """A SCPI error to queue: standard code (e.g. -222) and text; detail is for logs only."""

    def __init__(self, code: int, detail: str = "") -> None:
        self.code = code
        self.text = ERROR_TEXTS.get(code, "Error")
        self.detail = detail
        super().__init__(f'{code},"{self.text}" {detail}'.strip())

    @property
    def is_command_error(self) -> bool:
        """Return True for the -1xx class, which aborts the rest of a compound message."""
        return -199 <= self.code <= -100


@dataclass(frozen=True)
class Node:
    """One mnemonic of a header pattern: long form, short form, optional, numeric suffix."""

    long: str
    short: str
    optional: bool
    numbered: bool


_PATTERN_PART = re.compile(r"(\[)?:?([A-Za-z]+)(#)?(\])?")
_TOKEN = re.compile(r"([A-Za-z][A-Za-z_]*?)(\d+)?")


def compile_pattern(pattern: str) -> tuple[Node, ...]:
    """Compile 'INITiate[:IMMediate]' or 'CTP:SENSe#:CHANnel#:POWer' into nodes (# = suffix)."""
    nodes: list[Node] = []
    pos = 0
    text = pattern.lstrip(":")
    while pos < len(text):
        m = _PATTERN_PART.match(text, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"bad SCPI pattern {pattern!r} at {pos}")
        optional, word, numbered = m.group(1) is not None, m.group(2), m.group(3) is not None
        short = "".join(ch for ch in word if ch.isupper()) or word.upper()
        nodes.append(Node(word.upper(), short, optional, numbered))
        pos = m.end()
    return tuple(nodes)


def tokenize_header(header: str) -> list[tuple[str, int | None]]:
    """Split a header without '?' into (MNEMONIC, suffix or None); raise -113 if malformed."""
    parts = header.lstrip(":").split(":")
    tokens: list[tuple[str, int | None]] = []
    for part in parts:
        m = _TOKEN.fullmatch(part)
        if m is None:
            raise ScpiError(-113, f"bad mnemonic {part!r}")
        tokens.append((m.group(1).upper(), int(m.group(2)) if m.group(2) else None))
    return tokens


def match_nodes(
    nodes: Sequence[Node], tokens: Sequence[tuple[str, int | None]]
) -> list[int] | None:
    """Return the numeric suffixes (default 1) if the tokens match the pattern, else None."""

    def walk(i: int, j: int, acc: list[int]) -> list[int] | None:
        if i == len(nodes):
            return acc if j == len(tokens) else None
        node = nodes[i]
        if j < len(tokens):
            name, suffix = tokens[j]
            if name in (node.long, node.short) and (node.numbered or suffix is None):
                found = walk(i + 1, j + 1, [*acc, suffix if suffix is not None else 1] if
                             node.numbered else acc)
                if found is not None:
                    return found
        if node.optional:
            return walk(i + 1, j, [*acc, 1] if node.numbered else acc)
        return None

    return walk(0, 0, [])


def split_outside_quotes(text: str, sep: str) -> list[str]:
    """Split text on sep, ignoring separators inside single or double quotes."""
    if '"' not in text and "'" not in text:
        return text.split(sep)  # the usual case; the loop below costs ~0.5 µs per character
    parts: list[str] = []
    current: list[str] = []
    quote = ""
    for ch in text:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == sep:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


def split_command(part: str) -> tuple[str, bool, list[str]]:
    """Split one message unit into (header without '?', is_query, parameter strings)."""
    header, is_query, params = _split_command_cached(part)
    return header, is_query, list(params)


@functools.lru_cache(maxsize=4096)
def _split_command_cached(part: str) -> tuple[str, bool, tuple[str, ...]]:
    # Live polling repeats the same few message units thousands of times a second; a real
    # instrument answers extra units of a compound query for next to nothing, so should we.
    header, is_query, params = _split_command(part)
    return header, is_query, tuple(params)


def _split_command(part: str) -> tuple[str, bool, list[str]]:
    part = part.strip()
    m = re.match(r"(\S+)\s*(.*)", part, re.DOTALL)
    if m is None:
        raise ScpiError(-102, "empty command")
    header, rest = m.group(1), m.group(2).strip()
    is_query = header.endswith("?")
    if is_query:
        header = header[:-1]
    if not header or "?" in header:
        raise ScpiError(-102, f"bad header {header!r}")
    params = [p.strip() for p in split_outside_quotes(rest, ",")] if rest else []
    if any(p == "" for p in params):
        raise ScpiError(-102, "empty parameter")
    return header, is_query, params


_NUMBER = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([A-Za-z/]*)")

# unit suffix -> factor to the internal unit, per quantity; "" is the bare (SCPI default) form
_WAVELENGTH_NM = {"": 1e9, "M": 1e9, "UM": 1e3, "NM": 1.0, "PM": 1e-3}
_FREQUENCY_HZ = {"HZ": 1.0, "GHZ": 1e9, "THZ": 1e12}
_SAMPLING_PM = {"": 1e12, "M": 1e12, "UM": 1e6, "NM": 1e3, "PM": 1.0}
_TIME_S = {"": 1.0, "S": 1.0, "MS": 1e-3}


def _split_number(text: str) -> tuple[float, str]:
    m = _NUMBER.fullmatch(text.strip())
    if m is None:
        raise ScpiError(-104, f"not a number: {text!r}")
    return float(m.group(1)), m.group(2).upper()


def parse_scaled(text: str, units: dict[str, float]) -> float:
    """Parse '<number>[unit]' and convert with a unit table; unknown unit -> -131."""
    value, unit = _split_number(text)
    if unit not in units:
        raise ScpiError(-131, f"unit {unit!r}")
    return value * units[unit]


def parse_wavelength_nm(text: str) -> float:
    """Parse a wavelength or frequency ('1550NM', '1.55E-6', '193.4THZ') into nm (λ = c/f).

    Units PM, NM, UM, M, HZ, GHZ, THZ (the manual's list, PyMeasure PR #1366). A bare number
    is metres, or hertz when it is ≥ 1: no settable wavelength is a metre long, and the manual
    gives the default unit as "meter or hertz".
    """
    value, unit = _split_number(text)
    if unit == "" and value >= 1.0:
        unit = "HZ"
    if unit in _FREQUENCY_HZ:
        hertz = value * _FREQUENCY_HZ[unit]
        if hertz <= 0:
            raise ScpiError(-222, f"frequency {hertz} Hz")
        return SPEED_OF_LIGHT_M_S / hertz * 1e9
    if unit not in _WAVELENGTH_NM:
        raise ScpiError(-131, f"unit {unit!r}")
    return value * _WAVELENGTH_NM[unit]


def parse_sampling_pm(text: str) -> float:
    """Parse a sampling step ('1PM', '0.1PM', '1E-12') into pm; bare numbers are metres."""
    return parse_scaled(text, _SAMPLING_PM)


def parse_time_s(text: str) -> float:
    """Parse a duration ('5.6', '5.6S', '200MS') into seconds."""
    return parse_scaled(text, _TIME_S)


def parse_power_dbm(text: str) -> float:
    """Parse a power ('8DBM', '8', '6.3MW', '0.0063W') into dBm; bare numbers are dBm."""
    value, unit = _split_number(text)
    if unit in ("", "DBM"):
        return value
    linear_mw = {"MW": 1.0, "W": 1e3, "UW": 1e-3}
    if unit not in linear_mw:
        raise ScpiError(-131, f"unit {unit!r}")
    if value <= 0:
        raise ScpiError(-222, f"non-positive power {value}")
    return 10.0 * math.log10(value * linear_mw[unit])


def parse_plain(text: str) -> float:
    """Parse a number without unit suffix."""
    value, unit = _split_number(text)
    if unit:
        raise ScpiError(-131, f"unit {unit!r}")
    return value


def parse_int(text: str) -> int:
    """Parse an integer (a float with no fraction is accepted, '20.0' -> 20); else -104."""
    value = parse_plain(text)
    if value != int(value):
        raise ScpiError(-104, f"not an integer: {text!r}")
    return int(value)


def parse_bool(text: str) -> bool:
    """Parse ON|OFF|1|0 (any case)."""
    word = text.strip().upper()
    if word in ("ON", "1"):
        return True
    if word in ("OFF", "0"):
        return False
    raise ScpiError(-104, f"not a boolean: {text!r}")


def parse_string(text: str) -> str:
    """Parse a string parameter, quoted or bare."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def sci(value: float) -> str:
    """Format a number the way the CTP10 replies: '1.55000000E-006' (8 decimals, 3-digit exp)."""
    text = f"{value:.8E}"
    # Python writes at least two exponent digits ('E+05'), the CTP10 three ('E+005').
    if text[-4:-3] == "E":
        return f"{text[:-2]}0{text[-2:]}"
    return text


def short_number(value: float) -> str:
    """Format a setting like '5.6' or '20' (no exponent when not needed)."""
    return f"{value:g}"


def definite_block(payload: bytes, trailer: bool) -> bytes:
    """Wrap payload as an IEEE 488.2 definite-length block '#<n><count><payload>' [+ CR LF]."""
    count = str(len(payload))
    if len(count) > 9:
        raise ValueError("block too large for a definite-length header")
    header = b"#" + str(len(count)).encode() + count.encode()
    return header + payload + (b"\r\n" if trailer else b"")


def no_params(params: list[str]) -> None:
    """Refuse any parameter (-108)."""
    if params:
        raise ScpiError(-108, f"unexpected {params!r}")


def one_param(params: list[str]) -> str:
    """Return the only parameter; none -> -109, more -> -108."""
    if not params:
        raise ScpiError(-109)
    if len(params) > 1:
        raise ScpiError(-108, f"unexpected {params[1:]!r}")
    return params[0]


def n_params(params: list[str], n: int) -> list[str]:
    """Return exactly n parameters; fewer -> -109, more -> -108."""
    if len(params) < n:
        raise ScpiError(-109)
    if len(params) > n:
        raise ScpiError(-108, f"unexpected {params[n:]!r}")
    return params


def check_range(value: float, low: float, high: float, what: str) -> float:
    """Return value if low ≤ value ≤ high (1e-9 slack), else -222 naming what."""
    if not (low - 1e-9 <= value <= high + 1e-9) or math.isnan(value):
        raise ScpiError(-222, f"{what} {value} outside {low}–{high}")
    return value
