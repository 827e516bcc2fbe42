"""The seed's stream protocol: query parsing and the data / heartbeat / error frames (no Qt)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np

from ctp10_gui.hardware.power import ChannelStatus
from ctp10_gui.hardware.scpi import DETECTOR_MODULES
from ctp10_gui.models.derived import DerivedChannel, computable, compute_columns

STREAM_PATHS = ("/ws/power", "/ws/v2/power", "/api/v1/ws/power", "/api/v1/ws/v2/power")
BATCH_PATH = "/ws/power/batch"  # every snapshot, one frame per acquisition batch (≤ 20 ms)
EVENTS_PATH = "/ws/events"  # link states and the link's events (sweeps, references, ...)
HEALTH_WS_PATH = "/ws/health"
METRICS_PATH = "/metrics"
HEALTH_PATH = "/health"
SNAPSHOT_PATH = "/detector/snapshot"
DEFAULT_MODULE = 4
INTERVAL_RANGE_S = (0.01, 10.0)
DEFAULT_INTERVAL_S = 0.1
SEED_CHANNELS = (1, 2, 3, 4)  # the seed's data frame carries ch1_power ... ch4_power
STATUS_WORDS = {s.value: s.name.lower() for s in ChannelStatus}  # 0 -> "ok", 1 -> "under", ...


@dataclass(frozen=True)
class StreamQuery:
    """What a stream client asked for: detector module (1–20) and frame interval (0.01–10 s)."""

    module: int = DEFAULT_MODULE
    interval_s: float = DEFAULT_INTERVAL_S


def _one(params: Mapping[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise ValueError(f"{name} is given {len(values)} times")
    return values[0]


def parse_query(target: str) -> StreamQuery:
    """Return the module and interval of a request target ("/ws/power?module=4"); ValueError."""
    params = parse_qs(urlsplit(target).query, keep_blank_values=True)
    unknown = sorted(set(params) - {"module", "interval"})
    if unknown:
        raise ValueError(f"unknown parameter {unknown[0]!r} (module and interval are known)")
    module = DEFAULT_MODULE
    text = _one(params, "module")
    if text is not None:
        try:
            module = int(text)
        except ValueError:
            raise ValueError(f"module must be a whole number 1–20, got {text!r}") from None
        if not DETECTOR_MODULES[0] <= module <= DETECTOR_MODULES[1]:
            raise ValueError(f"module must be 1–20, got {module}")
    interval = DEFAULT_INTERVAL_S
    text = _one(params, "interval")
    if text is not None:
        try:
            interval = float(text)
        except ValueError:
            raise ValueError(f"interval must be a number of seconds, got {text!r}") from None
        if not (math.isfinite(interval)
                and INTERVAL_RANGE_S[0] <= interval <= INTERVAL_RANGE_S[1]):
            raise ValueError(f"interval must be 0.01–10 s, got {text}")
    return StreamQuery(module, interval)


def path_of(target: str) -> str:
    """Return the path of a request target without query and trailing slash."""
    path = urlsplit(target).path
    return path.rstrip("/") or "/"


def iso_now(now_s: float) -> str:
    """Return a Unix time (s) as ISO 8601 UTC with milliseconds."""
    return datetime.fromtimestamp(now_s, tz=UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Snapshot:
    """One reading of a module: Unix time (s), dBm per channel (NaN: no number), statuses."""

    t_wall: float
    module: int
    channels: tuple[int, ...]
    values_dbm: tuple[float, ...]
    status: tuple[int, ...]


def data_frame(snap: Snapshot, *, link: str, wavelength_nm: float | None = None,
               seq: int | None = None,
               derived: Sequence[DerivedChannel] = ()) -> dict[str, Any]:
    """Return the seed's data frame for a snapshot (None where a channel has no number).

    seq numbers the snapshots the server received (0, 1, ...): gaps show what was skipped.
    derived: the user's derived channels; those computable from the snapshot's channels add
    "derived" ({name: value in its unit or None}) and "derived_status" ({name: "under"...}).
    """
    frame: dict[str, Any] = {"type": "data", "timestamp": snap.t_wall, "module": snap.module,
                             "wavelength_nm": wavelength_nm, "unit": "dBm"}
    if seq is not None:
        frame["seq"] = seq
    by_channel = dict(zip(snap.channels, snap.values_dbm, strict=True))
    for channel in sorted(set(SEED_CHANNELS) | set(snap.channels)):
        value = by_channel.get(channel)
        frame[f"ch{channel}_power"] = (value if value is not None and math.isfinite(value)
                                       else None)
    frame["status"] = {f"ch{c}": STATUS_WORDS.get(s, "error")
                       for c, s in zip(snap.channels, snap.status, strict=True)}
    frame["link"] = link
    ready = computable(derived, snap.channels)
    if ready:
        values, status = compute_columns(ready, snap.channels, np.array([snap.values_dbm]),
                                         np.array([snap.status]))
        frame["derived"] = {d.name: float(v) if math.isfinite(v) else None
                            for d, v in zip(ready, values[0].tolist(), strict=True)}
        frame["derived_status"] = {d.name: STATUS_WORDS.get(int(s), "error")
                                   for d, s in zip(ready, status[0].tolist(), strict=True)}
    return frame


def heartbeat_frame(now_s: float, active_streams: int) -> dict[str, Any]:
    """Return the seed's heartbeat frame."""
    return {"type": "heartbeat", "timestamp": iso_now(now_s), "active_streams": active_streams}


def error_frame(message: str, now_s: float, error_count: int, *,
                recoverable: bool = True) -> dict[str, Any]:
    """Return the seed's error frame (the socket stays open while recoverable)."""
    return {"type": "error", "message": message, "timestamp": iso_now(now_s),
            "recoverable": recoverable, "error_count": error_count}


def health_body(*, connected: bool, link: str, now_s: float,
                clients: int) -> dict[str, Any]:
    """Return GET /health: status, connected, timestamp (plus link state and client count)."""
    return {"status": "ok" if connected else "degraded", "connected": connected,
            "timestamp": iso_now(now_s), "link": link, "clients": clients}


def _nullable(rows: np.ndarray) -> list[list[float | None]]:
    """Return a 2-D float array as nested lists with None for NaN (JSON has no NaN)."""
    boxed = rows.astype(object)
    boxed[~np.isfinite(rows)] = None
    nested: list[list[float | None]] = boxed.tolist()
    return nested


def batch_frame(module: int, channels: Sequence[int], t_wall: np.ndarray, values_dbm: np.ndarray,
                status: np.ndarray, *, link: str, seq: int = 0,
                wavelength_nm: float | None = None) -> dict[str, Any]:
    """Return every snapshot of an acquisition batch: N timestamps, N x C dBm and statuses."""
    # seq numbers the batch's first snapshot: the next batch starts at seq + N unless
    # snapshots were lost on the way.
    return {"type": "batch", "module": int(module), "channels": [int(c) for c in channels],
            "unit": "dBm", "wavelength_nm": wavelength_nm, "seq": int(seq),
            "timestamps": t_wall.tolist(), "power_dbm": _nullable(values_dbm),
            "status": status.astype(int).tolist(), "link": link}


def event_frame(kind: str, text: str, now_s: float, **extra: Any) -> dict[str, Any]:
    """Return an event frame: a link state change, a sweep, a reference, a recording..."""
    return {"type": "event", "kind": kind, "text": text, "timestamp": iso_now(now_s), **extra}


def snapshot_rows(module: int, channels: Sequence[int], t_wall: float,
                  values: Sequence[float], status: Sequence[int]) -> Snapshot:
    """Return a Snapshot from one row of a batch."""
    return Snapshot(float(t_wall), int(module), tuple(int(c) for c in channels),
                    tuple(float(v) for v in values), tuple(int(s) for s in status))
