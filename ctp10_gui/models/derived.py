"""Derived channels a user defines from measured ones: "IL = CH4 − CH3 (dB)", ratio, sum (mW).

Plain Python and numpy, no Qt. Each result carries a status like a measured channel, so under
range, over range and errors stay honest: a difference with an under-range minuend is itself
"under" (its true value lies below floor − B), never a made-up number.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ctp10_gui.hardware.power import ChannelStatus

OK, UNDER, OVER, ERROR = (int(ChannelStatus.OK), int(ChannelStatus.UNDER),
                          int(ChannelStatus.OVER), int(ChannelStatus.ERROR))


class DerivedKind(enum.Enum):
    """How a derived channel combines A and B; the value is the operator as typed."""

    DIFFERENCE_DB = "-"  # A − B in dB (dBm − dBm): insertion loss, coupling ratio in dB
    RATIO = "/"  # A / B, linear and unitless
    SUM_MW = "+"  # A + B in mW: the total of two outputs

    @property
    def unit(self) -> str:
        """Return the unit of the result: "dB", "" (ratio) or "mW"."""
        return {"-": "dB", "/": "", "+": "mW"}[self.value]


_EXPRESSION = re.compile(r"^\s*CH\s*([1-6])\s*([-+/−])\s*CH\s*([1-6])\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class DerivedChannel:
    """A named combination of two measured channels (1–6) of the acquired module."""

    name: str
    kind: DerivedKind
    a: int
    b: int

    @classmethod
    def parse(cls, name: str, expression: str) -> DerivedChannel:
        """Build one from "CH4 - CH3", "CH1 / CH2" or "CH1 + CH2"; ValueError says what is wrong."""
        match = _EXPRESSION.match(expression)
        if not match:
            raise ValueError(f"{expression!r} is not a derived channel: write e.g. "
                             "'CH4 - CH3' (dB), 'CH1 / CH2' (ratio) or 'CH1 + CH2' (mW)")
        a, op, b = int(match.group(1)), match.group(2).replace("−", "-"), int(match.group(3))
        if a == b:
            raise ValueError(f"{expression!r} combines CH{a} with itself")
        if not name.strip():
            raise ValueError("a derived channel needs a name")
        return cls(name.strip(), DerivedKind(op), a, b)

    @property
    def expression(self) -> str:
        """Return the expression as shown and saved: "CH4 − CH3"."""
        op = "−" if self.kind is DerivedKind.DIFFERENCE_DB else self.kind.value
        return f"CH{self.a} {op} CH{self.b}"

    def compute(self, a_dbm: np.ndarray, a_status: np.ndarray, b_dbm: np.ndarray,
                b_status: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (values, statuses) for samples of A and B in dBm with their statuses."""
        a_ok, b_ok = a_status == OK, b_status == OK
        error = (a_status == ERROR) | (b_status == ERROR)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            a_mw = np.power(10.0, a_dbm / 10.0)
            b_mw = np.power(10.0, b_dbm / 10.0)
            if self.kind is DerivedKind.DIFFERENCE_DB:
                values = a_dbm - b_dbm
                # Bounded only on one side when an input is out of range.
                lower = (a_status == UNDER) & (b_ok | (b_status == OVER))
                upper = (b_status == UNDER) & (a_ok | (a_status == OVER))
                upper |= (a_status == OVER) & b_ok
                lower |= (b_status == OVER) & a_ok
            elif self.kind is DerivedKind.RATIO:
                values = a_mw / b_mw
                lower = (a_status == UNDER) & (b_ok | (b_status == OVER))
                upper = (b_status == UNDER) & (a_ok | (a_status == OVER))
                upper |= (a_status == OVER) & b_ok
                lower |= (b_status == OVER) & a_ok
            else:
                # An under-range input adds less than the detector floor: ignore it.
                values = np.where(a_ok, a_mw, 0.0) + np.where(b_ok, b_mw, 0.0)
                lower = (a_status == UNDER) & (b_status == UNDER)
                upper = (a_status == OVER) | (b_status == OVER)
        status = np.full(values.shape, ERROR, dtype=np.int8)
        both_ok = a_ok & b_ok
        if self.kind is DerivedKind.SUM_MW:
            both_ok = (a_ok | b_ok) & ~upper & ~error
        status[both_ok & np.isfinite(values)] = OK
        status[lower & ~error] = UNDER
        status[upper & ~error & ~lower] = OVER
        values = np.where(status == OK, values, np.nan)
        return values, status


def computable(channels: Sequence[DerivedChannel],
               measured: Sequence[int]) -> tuple[DerivedChannel, ...]:
    """Return those of channels whose two inputs are both among the measured channel numbers."""
    return tuple(c for c in channels if c.a in measured and c.b in measured)


def compute_columns(channels: Sequence[DerivedChannel], measured: Sequence[int],
                    values_dbm: np.ndarray,
                    status: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (values N×D, statuses N×D int8) of computable derived channels from N×C samples.

    Columns follow computable(channels, measured). A status outside ChannelStatus in either
    input (a history's gap marker) is carried over unchanged: the derived curve breaks there too.
    """
    derived = computable(channels, measured)
    index = {ch: j for j, ch in enumerate(measured)}
    n = values_dbm.shape[0]
    out_v = np.empty((n, len(derived)))
    out_s = np.empty((n, len(derived)), dtype=np.int8)
    for k, c in enumerate(derived):
        sa, sb = status[:, index[c.a]], status[:, index[c.b]]
        v, s = c.compute(values_dbm[:, index[c.a]], sa, values_dbm[:, index[c.b]], sb)
        marker = np.where(sa < 0, sa, np.where(sb < 0, sb, 0))
        out_v[:, k] = v
        out_s[:, k] = np.where(marker < 0, marker, s)
    return out_v, out_s


def from_settings(items: Sequence[Mapping[str, str]]) -> tuple[list[DerivedChannel], list[str]]:
    """Return the saved definitions ({name, expression}) that parse, and a sentence per bad one."""
    good: list[DerivedChannel] = []
    problems: list[str] = []
    for item in items:
        try:
            good.append(DerivedChannel.parse(item["name"], item["expression"]))
        except ValueError as exc:
            problems.append(f"Derived channel {item['name']!r} left out: {exc}.")
    return good, problems
