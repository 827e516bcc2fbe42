"""The recording file format: CSV header and rows, event rows, metadata for the sidecar JSON."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import numpy as np

from ctp10_gui import __version__
from ctp10_gui.hardware.power import ChannelStatus, PowerUnitText
from ctp10_gui.models.channel_names import PORT_NAMES
from ctp10_gui.models.derived import DerivedChannel, DerivedKind
from ctp10_gui.models.readout import dbm_to_mw

# Index = ChannelStatus value: ("ok", "under", "over", "error").
STATUS_NAMES: tuple[str, ...] = tuple(s.name.lower() for s in sorted(ChannelStatus))
SIDECAR_FORMAT = "ctp10-gui recording 1"


class BatchLike(Protocol):
    """What the recorders read from a models.samples.SnapshotBatch."""

    @property
    def module(self) -> int: ...

    @property
    def channels(self) -> tuple[int, ...]: ...

    @property
    def t_wall(self) -> np.ndarray: ...

    @property
    def values_dbm(self) -> np.ndarray: ...

    @property
    def status(self) -> np.ndarray: ...


@dataclass(frozen=True)
class RecordingMetadata:
    """Describe a recording for the sidecar JSON; module/channels give the first header."""

    module: int
    channels: tuple[int, ...]
    unit: PowerUnitText = "dBm"
    identity: Mapping[str, str] | None = None
    wavelengths_nm: Mapping[int, float] = field(default_factory=dict)
    references: Mapping[str, float] = field(default_factory=dict)
    app_version: str = __version__
    extra: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""  # the user's sample label, also in the file names
    # procedures.instrument_state.read_instrument_state's snapshot (JSON-ready), {} if unread
    instrument_state: Mapping[str, Any] = field(default_factory=dict)
    # the user's derived channels: a column pair each where both inputs are recorded
    derived: tuple[DerivedChannel, ...] = ()
    channel_labels: Mapping[int, str] = field(default_factory=dict)  # user names by channel


def channel_label(channel: int, labels: Mapping[int, str]) -> str:
    """Return a channel's name for a recording: the user's, else the port name, else ""."""
    return labels.get(channel) or PORT_NAMES.get(channel, "")


def derived_columns(channel: DerivedChannel) -> tuple[str, str]:
    """Return the CSV column names of a derived channel: ("IL_dB", "IL_status"), "ratio" unit."""
    return f"{channel.name}_{channel.kind.unit or 'ratio'}", f"{channel.name}_status"


def derived_sidecar(channels: Sequence[DerivedChannel]) -> list[dict[str, str]]:
    """Return the sidecar's description of derived channels: name, definition, unit, columns."""
    return [{"name": c.name, "expression": c.expression, "unit": c.kind.unit or "ratio",
             "value_column": derived_columns(c)[0], "status_column": derived_columns(c)[1]}
            for c in channels]


# ---------------------------------------------------------------- formatting


def identity_dict(identity: object | None) -> dict[str, str] | None:
    """Return an instrument identity (hardware Identity dataclass or mapping) as a plain dict."""
    if identity is None:
        return None
    if dataclasses.is_dataclass(identity) and not isinstance(identity, type):
        return {k: str(v) for k, v in dataclasses.asdict(identity).items()}
    if isinstance(identity, Mapping):
        return {str(k): str(v) for k, v in identity.items()}
    return {"raw": str(identity)}


def header_line(channels: Sequence[int], unit: PowerUnitText,
                derived: Sequence[DerivedChannel] = ()) -> str:
    """Return the CSV header line (with newline): channel numbers in unit, then derived ones."""
    cols = ["iso_time", "unix_time"]
    for c in channels:
        cols += [f"ch{c}_{unit}", f"ch{c}_status"]
    for d in derived:
        cols += [_csv_field(name) for name in derived_columns(d)]
    cols.append("event")
    return ",".join(cols) + "\n"


def _csv_field(text: str) -> str:
    """Return text as one CSV field on one line (newlines become spaces, RFC 4180 quoting)."""
    text = text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    if any(ch in text for ch in ',"'):
        return '"' + text.replace('"', '""') + '"'
    return text


class TimeFormatter:
    """Format unix times as ISO-8601 local time with offset and ms, caching per second."""

    def __init__(self) -> None:
        self._sec = -(2**62)
        self._prefix = ""
        self._offset = ""

    def iso(self, ms_total: int) -> str:
        """Return ISO-8601 local time for a unix time given in integer milliseconds."""
        sec, ms = divmod(ms_total, 1000)
        if sec != self._sec:
            tm = time.localtime(sec)
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", tm)
            off = tm.tm_gmtoff or 0
            sign = "+" if off >= 0 else "-"
            off = abs(off)
            self._offset = f"{sign}{off // 3600:02d}:{off % 3600 // 60:02d}"
            self._sec = sec
        return f"{self._prefix}.{ms:03d}{self._offset}"


def _ms(t: float) -> int:
    return round(t * 1000.0)


def format_rows(
    t_wall: np.ndarray,
    values_dbm: np.ndarray,
    status: np.ndarray,
    unit: PowerUnitText,
    timefmt: TimeFormatter | None = None,
    derived: tuple[Sequence[DerivedKind], np.ndarray, np.ndarray] | None = None,
) -> str:
    """Return CSV snapshot rows (each ending in newline) for N×C dBm values and statuses.

    derived: (kinds, N×D values in their units, N×D statuses) written after the channels.
    """
    timefmt = timefmt or TimeFormatter()
    t = np.asarray(t_wall, dtype=np.float64)
    n = len(t)
    if n == 0:
        return ""
    vals = np.asarray(values_dbm, dtype=np.float64).reshape(n, -1)
    if unit == "mW":
        vals = dbm_to_mw(vals)
    fmt = "{:.6g}".format if unit == "mW" else "{:.4f}".format
    names, last = STATUS_NAMES, len(STATUS_NAMES) - 1
    isfinite = math.isfinite
    tl = t.tolist()
    # Column by column in plain Python: a batch is ~20 rows, where numpy's per-call overhead
    # would cost more than the formatting itself (79 vs 149 µs per 20-row batch).
    columns: list[list[str]] = [
        [timefmt.iso(round(x * 1000.0)) for x in tl],
        [f"{x:.6f}" for x in tl],
    ]
    codes = np.asarray(status).reshape(n, -1).T.tolist()
    fmts = [fmt] * len(codes)
    if derived is not None:
        kinds, d_vals, d_codes = derived
        vals = np.hstack([vals, np.asarray(d_vals, dtype=np.float64).reshape(n, -1)])
        codes += np.asarray(d_codes).reshape(n, -1).T.tolist()
        fmts += ["{:.4f}".format if k is DerivedKind.DIFFERENCE_DB else "{:.6g}".format
                 for k in kinds]
    for col_v, col_s, col_fmt in zip(vals.T.tolist(), codes, fmts, strict=True):
        columns.append([col_fmt(x) if isfinite(x) else "" for x in col_v])
        # Statuses outside ChannelStatus (e.g. a history gap marker) are written as "error".
        columns.append([names[x] if 0 <= x <= last else "error" for x in col_s])
    columns.append([""] * n)
    return "\n".join(map(",".join, zip(*columns, strict=True))) + "\n"


def format_event(
    t_wall: float, n_channels: int, kind: str, text: str, timefmt: TimeFormatter | None = None
) -> str:
    """Return one CSV event row (with newline): empty values, 'kind: text' in the event column."""
    timefmt = timefmt or TimeFormatter()
    label = f"{kind}: {text}" if text else kind
    empties = "," * (2 * n_channels)
    return f"{timefmt.iso(_ms(t_wall))},{t_wall:.6f},{empties}{_csv_field(label)}\n"


def iso_now(t_wall: float) -> str:
    return datetime.fromtimestamp(t_wall).astimezone().isoformat(timespec="milliseconds")
