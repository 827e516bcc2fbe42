"""Sweeps: plan what the next scan will take, run it, wait until idle, abort when asked.

Plain functions of the driver (first argument), run by the link worker between snapshots.
Waiting is the driver's `wait_until_idle`, so the CTP10's injected clock and sleep pace it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from ctp10_gui.hardware.ctp10 import CTP10

__all__ = [
    "DEFAULT_SPEED_NM_S",
    "TIMEOUT_MARGIN_S",
    "Cancelled",
    "LaserSpan",
    "Outcome",
    "Progress",
    "SweepPlan",
    "any_cancelled",
    "deadline_s",
    "plan_sweep",
    "run_scan",
    "run_sweep",
]

Outcome = Literal["completed", "aborted"]
Progress = Callable[[float], None]  # elapsed s since the operation began
Cancelled = Callable[[], bool]  # polled between condition-register reads

# A scan may take longer than expected (settling, several lasers): give up at 3× + 60 s.
TIMEOUT_FACTOR = 3.0
TIMEOUT_MARGIN_S = 60.0
# The instrument sweeps at the first assigned laser's speed when none covers the range.
DEFAULT_SPEED_NM_S = 20.0


def any_cancelled(*checks: Cancelled) -> Cancelled:
    """Return a check that is True as soon as any of checks is (e.g. Abort or app shutdown)."""

    def cancelled() -> bool:
        return any(check() for check in checks)

    return cancelled


def deadline_s(expected_s: float) -> float:
    """Return how long a scan expected to take expected_s (s, ≥ 0) may run before it fails (s)."""
    return expected_s * TIMEOUT_FACTOR + TIMEOUT_MARGIN_S


@dataclass(frozen=True)
class SweepPlan:
    """What the instrument will sweep: span (nm), per-laser speed share, stabilization (s)."""

    start_nm: float
    stop_nm: float
    scan_s: float  # Σ overlap / speed over the lasers in use
    stabilization_s: float
    lasers: tuple[tuple[int, float], ...]  # (TLS n, speed nm/s) in use

    @property
    def expected_s(self) -> float:
        """Return the expected duration in s: span / speed + stabilization."""
        return self.scan_s + self.stabilization_s

    def describe(self) -> str:
        """Return the expected-time formula in words."""
        speeds = ", ".join(f"TLS {n} {v:g} nm/s" for n, v in self.lasers) or "no laser known"
        span = self.stop_nm - self.start_nm
        return (
            f"{span:g} nm at {speeds} ≈ {self.scan_s:.1f} s + "
            f"{self.stabilization_s:g} s stabilization"
        )


class LaserSpan(NamedTuple):
    """An assigned TLS as the plan sees it: number 1–4, speed (nm/s), start and stop (nm)."""

    tls: int
    speed_nm_s: float
    start_nm: float
    stop_nm: float


def plan_sweep(start_nm: float, stop_nm: float, stabilization_s: float,
               lasers: Sequence[LaserSpan]) -> SweepPlan:
    """Return the plan of a scan start_nm–stop_nm over the assigned lasers (speed > 0)."""
    total = 0.0
    assigned: list[tuple[int, float]] = []
    covering: list[tuple[int, float]] = []
    for laser in lasers:
        if laser.speed_nm_s <= 0:
            continue
        assigned.append((laser.tls, laser.speed_nm_s))
        overlap = min(stop_nm, laser.stop_nm) - max(start_nm, laser.start_nm)
        if overlap > 0:
            covering.append((laser.tls, laser.speed_nm_s))
            total += overlap / laser.speed_nm_s
    if total == 0.0:  # no laser covers the range: the instrument uses the first speed
        covering = assigned[:1]
        total = (stop_nm - start_nm) / (covering[0][1] if covering else DEFAULT_SPEED_NM_S)
    return SweepPlan(start_nm, stop_nm, total, stabilization_s, tuple(covering))


def run_scan(ctp: CTP10, expected_s: float, *, progress: Progress,
             cancelled: Cancelled) -> bool:
    """Wait for a started scan expected to take expected_s s; on cancel :ABOR it, return False."""
    # progress gets the elapsed s of this scan; OperationTimeoutError after deadline_s().
    if ctp.wait_until_idle(timeout_s=deadline_s(expected_s), progress=progress,
                           cancelled=cancelled):
        return True
    ctp.abort()
    ctp.wait_until_idle(timeout_s=TIMEOUT_MARGIN_S)
    return False


def run_sweep(ctp: CTP10, plan: SweepPlan, *, progress: Progress,
              cancelled: Cancelled) -> Outcome:
    """Start a sweep (:INIT) and wait for it; "aborted" when cancelled before or during it."""
    progress(0.0)
    if cancelled():  # Abort pressed before the worker got here: nothing is started
        return "aborted"
    ctp.start_sweep()
    return "completed" if run_scan(ctp, plan.expected_s, progress=progress,
                                   cancelled=cancelled) else "aborted"
