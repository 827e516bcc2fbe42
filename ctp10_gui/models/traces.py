"""Fetched and opened spectral traces: store, export/open, resonance finder, view decimation."""

from __future__ import annotations

import enum
import json
import logging
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np

log = logging.getLogger(__name__)

FORMAT_NAME = "ctp10_gui trace"
FORMAT_VERSION = 1

# Trace types by their SCPI number (ctp10.TraceType values), so this module needs no driver import.
TRACE_TYPE_NAMES: dict[int, str] = {
    1: "TF live",
    11: "raw live",
    12: "raw reference",
    13: "quick reference",
}

# Above this many points the resonance finder works on per-bin min/max (exact extreme values and
# positions kept) so its Python loop stays in the tens of milliseconds for a 1 M-point trace.
# Two resonances closer than ~2 bins (12 pm on a 940 001-point 0.1 pm trace) count as one.
_RESONANCE_MAX_BINS = 16_384


def trace_type_name(trace_type: int | None) -> str:
    """Return the display name of a trace type number (1, 11, 12, 13), or "" for None."""
    if trace_type is None:
        return ""
    return TRACE_TYPE_NAMES.get(int(trace_type), f"type {int(trace_type)}")


@dataclass
class StoredTrace:
    """One trace held by the store: wavelength in nm, values in dB (TF) or dBm (raw)."""

    key: int
    wavelength_nm: np.ndarray
    values: np.ndarray
    unit: str
    module: int | None = None
    channel: int | None = None
    trace_type: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str = "instrument"  # "instrument" or the path of the file it was opened from
    has_nan: bool = False
    name: str = ""  # given name of a computed trace ("trace 3 − trace 1 (IL)"), "" otherwise

    @property
    def type_name(self) -> str:
        """Return the trace type's display name ("TF live", ...)."""
        return trace_type_name(self.trace_type)

    @property
    def label(self) -> str:
        """Return a short legend label such as "M4 C1 TF live" or the opened file's name."""
        parts = []
        if self.module is not None and self.channel is not None:
            parts.append(f"M{self.module} C{self.channel}")
        if self.trace_type is not None:
            parts.append(self.type_name)
        text = self.name or " ".join(parts) or "trace"
        if self.source != "instrument":
            text = f"{text} ({Path(self.source).name})"
        return text

    @property
    def title(self) -> str:
        """Return the numbered name users see in lists and messages: "trace 3 · M4 C1 TF live"."""
        return f"trace {self.key} · {self.label}"

    @property
    def points(self) -> int:
        """Return the number of points (0–10 M)."""
        return int(self.values.size)

    @property
    def x_bounds(self) -> tuple[float, float]:
        """Return (first, last) wavelength in nm, or (nan, nan) when empty."""
        if self.wavelength_nm.size == 0:
            return (math.nan, math.nan)
        return (float(self.wavelength_nm[0]), float(self.wavelength_nm[-1]))

    @property
    def y_bounds(self) -> tuple[float, float]:
        """Return (min, max) of the finite values in the trace unit, or (nan, nan)."""
        finite = self.values[np.isfinite(self.values)] if self.has_nan else self.values
        if finite.size == 0:
            return (math.nan, math.nan)
        return (float(finite.min()), float(finite.max()))

    def value_at(self, wavelength_nm: float) -> float:
        """Return the linearly interpolated value at a wavelength in nm (NaN outside the trace)."""
        x = self.wavelength_nm
        if x.size == 0 or not (x[0] <= wavelength_nm <= x[-1]):
            return math.nan
        return float(np.interp(wavelength_nm, x, self.values))


@dataclass(frozen=True)
class Resonance:
    """One dip or peak: position in nm, extreme value, depth (prominence) in dB."""

    index: int
    wavelength_nm: float
    value: float
    depth_db: float
    kind: Literal["dip", "peak"]


class TraceStore:
    """Hold fetched and opened traces in order; notify listeners after every change."""

    def __init__(self) -> None:
        self._traces: dict[int, StoredTrace] = {}
        self._next_key = 1
        self._listeners: list[Callable[[], None]] = []
        # The instrument's settings last read (procedures.read_instrument_state), stamped on
        # every trace fetched so its exports say what the instrument was set to.
        self.instrument_state: dict[str, Any] = {}

    def set_instrument_state(self, state: Mapping[str, Any]) -> None:
        """Take the instrument state (JSON-ready) that traces fetched from now on carry."""
        self.instrument_state = dict(state)

    # -- contents ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._traces)

    def __iter__(self) -> Iterator[StoredTrace]:
        return iter(list(self._traces.values()))

    @property
    def traces(self) -> tuple[StoredTrace, ...]:
        """Return the traces, oldest first."""
        return tuple(self._traces.values())

    @property
    def last(self) -> StoredTrace | None:
        """Return the most recently added trace, or None."""
        return next(reversed(self._traces.values()), None)

    def get(self, key: int) -> StoredTrace:
        """Return the trace with this key (KeyError if removed)."""
        return self._traces[key]

    def add_trace(
        self,
        trace: Any,
        *,
        identity: Any = None,
        settings: Mapping[str, Any] | None = None,
        acquired: datetime | None = None,
    ) -> StoredTrace:
        """Store a driver Trace (module, channel, trace_type, wavelength_nm, values, unit...)."""
        meta = build_metadata(trace, identity=identity, settings=settings, acquired=acquired)
        if self.instrument_state:
            meta["instrument_state"] = _jsonable(self.instrument_state)
        return self.add_arrays(
            np.asarray(trace.wavelength_nm, dtype=np.float64),
            np.asarray(trace.values, dtype=np.float64),
            unit=str(trace.unit),
            module=int(trace.module),
            channel=int(trace.channel),
            trace_type=int(trace.trace_type),
            metadata=meta,
        )

    def add_arrays(
        self,
        wavelength_nm: np.ndarray,
        values: np.ndarray,
        *,
        unit: str,
        module: int | None = None,
        channel: int | None = None,
        trace_type: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        source: str = "instrument",
        name: str = "",
    ) -> StoredTrace:
        """Store a trace given as arrays (wavelength nm ascending, values in `unit`)."""
        x = np.ascontiguousarray(wavelength_nm, dtype=np.float64)
        y = np.ascontiguousarray(values, dtype=np.float64)
        if x.shape != y.shape or x.ndim != 1:
            raise ValueError(
                "wavelength and values must be 1-D arrays of one length, "
                f"got {x.shape} and {y.shape}"
            )
        stored = StoredTrace(
            key=self._next_key,
            wavelength_nm=x,
            values=y,
            unit=unit,
            module=module,
            channel=channel,
            trace_type=trace_type,
            metadata=dict(metadata or {}),
            source=source,
            has_nan=bool(np.isnan(y).any()),
            name=name,
        )
        self._next_key += 1
        self._traces[stored.key] = stored
        self._notify()
        return stored

    def remove(self, key: int) -> None:
        """Forget one trace (no error if it is already gone)."""
        if self._traces.pop(key, None) is not None:
            self._notify()

    def clear(self) -> None:
        """Forget every trace."""
        if self._traces:
            self._traces.clear()
            self._notify()

    # -- files ------------------------------------------------------------------------------
    def export(self, key: int, path: str | Path) -> list[Path]:
        """Write one trace to .csv or .npy (by suffix) plus its metadata sidecar; return paths."""
        return export_trace(self.get(key), path)

    def open(self, path: str | Path) -> StoredTrace:
        """Load an exported .csv or .npy file and add it to the store."""
        x, y, meta = load_trace_file(path)
        return self.add_arrays(
            x,
            y,
            unit=str(meta.get("y_unit", "dB")),
            module=_opt_int(meta.get("module")),
            channel=_opt_int(meta.get("channel")),
            trace_type=_opt_int(meta.get("trace_type")),
            metadata=meta,
            source=str(Path(path)),
            name=str(meta.get("name") or ""),
        )

    # -- listeners --------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call `callback()` after every add/remove/clear."""
        self._listeners.append(callback)

    def unsubscribe(self, callback: Callable[[], None]) -> None:
        """Stop calling `callback` (no error if it was never subscribed)."""
        if callback in self._listeners:
            self._listeners.remove(callback)

    def _notify(self) -> None:
        for callback in list(self._listeners):
            callback()


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def build_metadata(
    trace: Any,
    *,
    identity: Any = None,
    settings: Mapping[str, Any] | None = None,
    acquired: datetime | None = None,
) -> dict[str, Any]:
    """Describe a driver Trace: identity, settings, time, trace type, units, grid (JSON-ready)."""
    ident: dict[str, Any] | None = None
    if identity is not None:
        ident = {
            k: getattr(identity, k, None)
            for k in ("manufacturer", "model", "serial", "firmware", "raw")
        }
    when = acquired or datetime.now(UTC)
    trace_type = int(trace.trace_type)
    return {
        "instrument": ident,
        "module": int(trace.module),
        "channel": int(trace.channel),
        "trace_type": trace_type,
        "trace_type_name": trace_type_name(trace_type),
        "x_unit": "nm",
        "y_unit": str(trace.unit),
        "points": int(np.asarray(trace.values).size),
        "start_nm": float(trace.start_nm),
        "step_pm": float(trace.step_pm),
        "acquired": when.isoformat(timespec="seconds"),
        "settings": _jsonable(dict(settings or {})),
    }


def _jsonable(value: Any) -> Any:
    """Turn settings values (enums, numpy scalars, tuples) into plain JSON types."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, bool | int | float | str) or value is None:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return value
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, enum.Enum):
        return value.name
    return str(value)


# -- export / open --------------------------------------------------------------------------
def sidecar_path(path: str | Path) -> Path:
    """Return the metadata sidecar of an exported file: "<file>.json" next to it."""
    p = Path(path)
    return p.with_name(p.name + ".json")


def export_trace(trace: StoredTrace, path: str | Path) -> list[Path]:
    """Write a trace to CSV or NPY (chosen by suffix) and a metadata JSON sidecar."""
    p = Path(path)
    suffix = p.suffix.lower()
    meta = dict(trace.metadata)
    meta.update(
        format=FORMAT_NAME,
        version=FORMAT_VERSION,
        x_unit="nm",
        y_unit=trace.unit,
        points=trace.points,
        columns=["wavelength_nm", f"value_{trace.unit}"],
        exported=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    for key, value in (
        ("module", trace.module),
        ("channel", trace.channel),
        ("trace_type", trace.trace_type),
    ):
        meta.setdefault(key, value)
    if trace.trace_type is not None:
        meta.setdefault("trace_type_name", trace.type_name)
    if trace.name:
        meta["name"] = trace.name
    if suffix == ".csv":
        meta["file_format"] = "csv"
        _write_csv(p, trace.wavelength_nm, trace.values, meta)
    elif suffix == ".npy":
        meta["file_format"] = "npy"
        meta["layout"] = "float64 array of shape (points, 2): wavelength_nm, value"
        np.save(p, np.column_stack((trace.wavelength_nm, trace.values)), allow_pickle=False)
    else:
        raise ValueError(f"cannot export to '{p.name}': choose a .csv or .npy file name")
    side = sidecar_path(p)
    side.write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    log.info("exported %s (%d points) to %s", trace.label, trace.points, p)
    return [p, side]


def _write_csv(path: Path, x: np.ndarray, y: np.ndarray, meta: Mapping[str, Any]) -> None:
    """Write '#'-prefixed metadata, a header, then rows with round-trip exact numbers."""
    unit = meta.get("y_unit", "")
    # repr() gives the shortest text that parses back to the identical float64 (NaN as "nan").
    rows = "\n".join(f"{a!r},{b!r}" for a, b in zip(x.tolist(), y.tolist(), strict=True))
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write(f"# {FORMAT_NAME} {json.dumps(meta, ensure_ascii=False)}\n")
        fh.write(f"wavelength_nm,value_{unit}\n")
        fh.write(rows)
        fh.write("\n")


def load_trace_file(path: str | Path) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Read an exported .csv or .npy trace: (wavelength nm, values, metadata)."""
    p = Path(path)
    suffix = p.suffix.lower()
    meta: dict[str, Any] = {}
    side = sidecar_path(p)
    if side.exists():
        try:
            meta = _metadata_object(side.read_text(encoding="utf-8"), side)
        except (OSError, ValueError) as exc:  # ValueError: not UTF-8
            log.warning("ignoring unreadable metadata %s: %s", side, exc)
    if suffix == ".csv":
        x, y, csv_meta = _read_csv(p)
        meta = meta or csv_meta
    elif suffix == ".npy":
        data = np.load(p, allow_pickle=False)
        if data.ndim != 2 or data.shape[1] != 2:
            raise ValueError(
                f"'{p.name}' is not a trace export: expected shape (points, 2), got {data.shape}"
            )
        x = np.ascontiguousarray(data[:, 0], dtype=np.float64)
        y = np.ascontiguousarray(data[:, 1], dtype=np.float64)
    else:
        raise ValueError(f"cannot open '{p.name}': only .csv and .npy trace exports are read")
    if not meta:
        meta = {"x_unit": "nm", "y_unit": "dB"}
    if len(x) > 1 and x[0] > x[-1]:
        x, y = x[::-1].copy(), y[::-1].copy()  # a descending export (e.g. from another tool)
    if len(x) > 1 and not bool(np.all(np.diff(x) > 0)):
        raise ValueError(
            f"'{p.name}' is not a trace: its wavelengths must rise or fall steadily "
            "(the cursor readout and the drawing rely on it)"
        )
    return x, y, meta


def _read_csv(path: Path) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    meta: dict[str, Any] = {}
    skip = 0
    with path.open("r", encoding="utf-8") as fh:
        for line in fh:
            stripped = line.strip()
            if stripped.startswith("#"):
                body = stripped.lstrip("#").strip()
                if body.startswith(FORMAT_NAME):
                    meta = _metadata_object(body[len(FORMAT_NAME) :], path)
                skip += 1
                continue
            if stripped and not _is_number(stripped.split(",")[0]):
                skip += 1  # the column header
            break
    data = np.loadtxt(path, delimiter=",", skiprows=skip, dtype=np.float64, ndmin=2)
    if data.shape[1] < 2:
        raise ValueError(f"'{path.name}' has {data.shape[1]} column(s); a trace needs 2")
    if "y_unit" not in meta:
        meta["y_unit"] = "dB"
    return (
        np.ascontiguousarray(data[:, 0]),
        np.ascontiguousarray(data[:, 1]),
        meta,
    )


def _metadata_object(text: str, where: Path) -> dict[str, Any]:
    """Return the JSON object in text, or {} (logged) when text is not one."""
    try:
        meta = json.loads(text)
    except ValueError as exc:
        log.warning("ignoring unreadable metadata in %s: %s", where, exc)
        return {}
    if not isinstance(meta, dict):
        log.warning("ignoring metadata in %s: a %s, not a JSON object", where, type(meta).__name__)
        return {}
    return meta


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# -- resonances -----------------------------------------------------------------------------
def find_resonances(
    wavelength_nm: np.ndarray,
    values: np.ndarray,
    *,
    kind: Literal["dip", "peak"] = "dip",
    count: int = 10,
    min_depth_db: float = 0.0,
) -> list[Resonance]:
    """Return up to `count` (1–1000) deepest dips or highest peaks, deepest first.

    Depth is the topographic prominence in dB: how far the extreme lies below (dip) or above
    (peak) the lower of the two highest points separating it from a more extreme point on
    each side (the trace edge when there is none), as in scipy.signal.peak_prominences.
    """
    x = np.asarray(wavelength_nm, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    if x.shape != y.shape or y.size < 3 or count <= 0:
        return []
    # Work on "depth below" for dips, the mirrored trace for peaks.
    s = y if kind == "dip" else -y
    s = np.where(np.isfinite(s), s, np.nan)
    lows, highs, low_idx = _bin_extremes(s)
    keep = np.isfinite(lows) & np.isfinite(highs)
    lows, highs, low_idx = lows[keep], highs[keep], low_idx[keep]
    n = lows.size
    if n < 3:
        return []
    interior = np.flatnonzero((lows[1:-1] < lows[:-2]) & (lows[1:-1] <= lows[2:])) + 1
    if interior.size == 0:
        return []
    left_stop = _previous_lower(lows)
    right_stop = _previous_lower(lows[::-1])
    right_stop = np.where(right_stop < 0, -1, n - 1 - right_stop)[::-1]
    table = _SparseMax(highs)
    # The bases exclude the more extreme point itself (its bin's high may lie beyond it).
    lo_left = np.where(left_stop[interior] < 0, 0, left_stop[interior] + 1)
    left_base = table.query(lo_left, interior)
    hi_right = np.where(right_stop[interior] < 0, n - 1, right_stop[interior] - 1)
    right_base = table.query(interior, hi_right)
    depth = np.minimum(left_base, right_base) - lows[interior]
    order = np.argsort(-depth, kind="stable")
    result: list[Resonance] = []
    for j in order[: max(1, min(int(count), 1000))]:
        d = float(depth[j])
        if not d > min_depth_db:
            break
        i = int(low_idx[interior[j]])
        result.append(
            Resonance(index=i, wavelength_nm=float(x[i]), value=float(y[i]), depth_db=d, kind=kind)
        )
    return result


def _bin_extremes(s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reduce to ≤ _RESONANCE_MAX_BINS bins: (bin minima, bin maxima, index of each minimum)."""
    n = s.size
    per_bin = max(1, math.ceil(n / _RESONANCE_MAX_BINS))
    if per_bin == 1:
        return s, s, np.arange(n)
    bins = math.ceil(n / per_bin)
    padded = np.full(bins * per_bin, np.nan)
    padded[:n] = s
    blocks = padded.reshape(bins, per_bin)
    filled_low = np.where(np.isnan(blocks), np.inf, blocks)
    arg = filled_low.argmin(axis=1)
    lows = filled_low[np.arange(bins), arg]
    highs = np.where(np.isnan(blocks), -np.inf, blocks).max(axis=1)
    lows = np.where(np.isinf(lows), np.nan, lows)
    highs = np.where(np.isinf(highs), np.nan, highs)
    return lows, highs, arg + np.arange(bins) * per_bin


def _previous_lower(a: np.ndarray) -> np.ndarray:
    """For each i, the largest j < i with a[j] < a[i], or -1 (monotonic stack, O(n))."""
    out = np.full(a.size, -1, dtype=np.int64)
    stack: list[int] = []
    values = a.tolist()
    for i, v in enumerate(values):
        while stack and values[stack[-1]] >= v:
            stack.pop()
        if stack:
            out[i] = stack[-1]
        stack.append(i)
    return out


class _SparseMax:
    """Range-maximum queries over a fixed array in O(1) after O(n log n) numpy preparation."""

    def __init__(self, a: np.ndarray) -> None:
        self.levels = [a]
        width = 1
        while 2 * width <= a.size:
            prev = self.levels[-1]
            self.levels.append(np.maximum(prev[:-width], prev[width:]))
            width *= 2

    def query(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Return max(a[lo..hi]) inclusive, element-wise for index arrays with lo ≤ hi."""
        length = hi - lo + 1
        k = np.floor(np.log2(length)).astype(np.int64)
        out = np.empty(lo.size)
        for level in np.unique(k):
            sel = k == level
            arr = self.levels[int(level)]
            out[sel] = np.maximum(arr[lo[sel]], arr[hi[sel] - (1 << int(level)) + 1])
        return out
