"""Traces of chosen detectors and types: read them with the sweep settings, or save them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ctp10_gui.hardware.ctp10 import CTP10, Identity, Trace, TraceType
from ctp10_gui.hardware.errors import CTP10Error, LinkError
from ctp10_gui.models.traces import trace_type_name
from ctp10_gui.procedures.sweep import Cancelled

__all__ = [
    "FETCH_TIMEOUT_S",
    "SWEEP_SETTINGS",
    "FetchedTraces",
    "TraceRequest",
    "fetch_traces",
    "save_traces",
    "trace_requests",
]

FETCH_TIMEOUT_S = 30.0  # per trace: a 940 001-point block over a slow LAN
# The sweep settings stored with every trace (names of Sweep controls).
SWEEP_SETTINGS = ("start_nm", "stop_nm", "sampling_pm", "stabilization_output",
                  "stabilization_s")

FetchProgress = Callable[[int, int], None]  # (traces done, traces asked for)


@dataclass(frozen=True)
class TraceRequest:
    """One trace to read: module 1–20, channel 1–6, trace type."""

    module: int
    channel: int
    trace_type: TraceType | int  # 1–23

    def describe(self) -> str:
        """Return "M4 C2 TF live" for messages."""
        return f"M{self.module} C{self.channel} {trace_type_name(int(self.trace_type))}"


def trace_requests(module: int, channels: Iterable[int],
                   types: Sequence[TraceType]) -> list[TraceRequest]:
    """Return every (channel, type) of one module, channel by channel."""
    return [TraceRequest(module, c, t) for c in channels for t in types]


@dataclass(frozen=True)
class FetchedTraces:
    """The traces read, the refusals per trace, and what they were measured with."""

    identity: Identity | None
    settings: dict[str, object]  # SWEEP_SETTINGS name -> value read before the traces
    traces: tuple[Trace, ...]
    errors: tuple[str, ...]  # "M4 C2 TF live: <instrument error>" per refused trace
    acquired: datetime  # UTC, when the last trace was read
    cancelled: bool = False  # stopped before every request was tried


def _utc_now() -> datetime:
    return datetime.now(UTC)


def fetch_traces(ctp: CTP10, requests: Sequence[TraceRequest], *,
                 progress: FetchProgress | None = None, cancelled: Cancelled | None = None,
                 timeout_s: float = FETCH_TIMEOUT_S,
                 now: Callable[[], datetime] = _utc_now) -> FetchedTraces:
    """Read the sweep settings, then each requested trace (timeout_s s per block, > 0)."""
    # A refused trace is noted and the others are still read; a LinkError ends the fetch.
    # cancelled is checked before each trace; progress gets (done, total) after each.
    settings: dict[str, object] = {name: ctp.sweep.get(name) for name in SWEEP_SETTINGS}
    fetched: list[Trace] = []
    errors: list[str] = []
    stopped = False
    for done, request in enumerate(requests, start=1):
        if cancelled is not None and cancelled():
            stopped = True
            break
        try:
            fetched.append(ctp.fetch_trace(request.module, request.channel, request.trace_type,
                                           timeout_s=timeout_s))
        except LinkError:
            raise  # the session is gone: the whole fetch fails
        except CTP10Error as exc:  # one refused trace must not hide the others
            errors.append(f"{request.describe()}: {exc}")
        if progress is not None:
            progress(done, len(requests))
    return FetchedTraces(ctp.identity, settings, tuple(fetched), tuple(errors), now(),
                         cancelled=stopped)


def save_traces(ctp: CTP10, requests: Sequence[TraceRequest]) -> tuple[str, ...]:
    """Save each requested trace in the instrument's memory; return the refusals as sentences."""
    # A refused trace is noted and the others are still saved; a LinkError ends the run.
    errors: list[str] = []
    for request in requests:
        try:
            ctp.save_trace(request.module, request.channel, request.trace_type)
        except LinkError:
            raise
        except CTP10Error as exc:
            errors.append(f"{request.describe()}: {exc}")
    return tuple(errors)
