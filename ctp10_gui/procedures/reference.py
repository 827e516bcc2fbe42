"""References: take one per detector channel (a scan each), and read their state."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from ctp10_gui.hardware.ctp10 import CTP10, ReferenceResult
from ctp10_gui.procedures.sweep import Cancelled, Outcome, Progress, SweepPlan, run_scan

__all__ = ["ChannelReference", "ReferenceRun", "read_references", "take_references"]


class ChannelReference(NamedTuple):
    """The reference state of one detector: module 1–20, channel 1–6."""

    module: int
    channel: int
    result: ReferenceResult


@dataclass(frozen=True)
class ReferenceRun:
    """How a run of references ended, and the references taken before it ended."""

    outcome: Outcome
    references: tuple[ChannelReference, ...]


def take_references(ctp: CTP10, plan: SweepPlan, targets: Sequence[tuple[int, int]], *,
                    progress: Progress, cancelled: Cancelled) -> ReferenceRun:
    """Reference each (module 1–20, channel 1–6) in turn; the first cancel sends :ABOR, stops."""
    # progress gets the elapsed s of the whole run: plan.expected_s per finished target + now.
    taken: list[ChannelReference] = []
    for i, (module, channel) in enumerate(targets):
        if cancelled():
            return ReferenceRun("aborted", tuple(taken))
        ctp.start_reference(module, channel)
        offset = i * plan.expected_s

        def report(elapsed: float, offset: float = offset) -> None:
            progress(offset + elapsed)

        if not run_scan(ctp, plan.expected_s, progress=report, cancelled=cancelled):
            return ReferenceRun("aborted", tuple(taken))
        taken.append(ChannelReference(module, channel, ctp.reference_result(module, channel)))
    return ReferenceRun("completed", tuple(taken))


def read_references(ctp: CTP10, targets: Iterable[tuple[int, int]]) -> list[ChannelReference]:
    """Read the reference state of each (module, channel), in order."""
    return [ChannelReference(m, c, ctp.reference_result(m, c)) for m, c in targets]
