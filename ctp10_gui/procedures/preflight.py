"""Sweep pre-flight: read what the next scan would use and refuse, with sentences, what cannot work.

Run by the link worker before :INIT (sweeps and references): a scan no assigned laser covers
"completes" on the instrument with no light on the detectors, so it is refused here instead,
together with settings the CTP10 itself would refuse (the reference /work/shared/ctp10-scpi.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ctp10_gui.hardware.ctp10 import CTP10, STATUS_REFERENCING, STATUS_SCANNING
from ctp10_gui.hardware.errors import OutOfRangeError
from ctp10_gui.hardware.laser_models import find_laser_model, speed_refusal
from ctp10_gui.hardware.scpi import TUNABLE_LASERS, format_number
from ctp10_gui.procedures.sweep import LaserSpan, SweepPlan, plan_sweep

__all__ = [
    "AssignedLaser",
    "SweepCheck",
    "SweepSetup",
    "check_sweep",
    "read_sweep_setup",
    "sweep_refusals",
]

_NM_TOLERANCE = 1e-6  # replies in metres come back with float dust far below a picometre


@dataclass(frozen=True)
class AssignedLaser:
    """A TLS with a laser: TLS 1–4, laser position 1–10, model, range (nm), speed (nm/s)."""

    tls: int
    position: int
    model: str | None
    start_nm: float
    stop_nm: float
    speed_nm_s: float


@dataclass(frozen=True)
class SweepSetup:
    """Everything a scan depends on: range (nm), sampling (pm), settle time (s), lasers."""

    start_nm: float
    stop_nm: float
    sampling_pm: float
    stabilization_s: float
    lasers: tuple[AssignedLaser, ...]
    condition: int  # operation condition register when read (0 = idle)

    def plan(self) -> SweepPlan:
        """Return the expected duration of this scan."""
        spans = [LaserSpan(a.tls, a.speed_nm_s, a.start_nm, a.stop_nm) for a in self.lasers]
        return plan_sweep(self.start_nm, self.stop_nm, self.stabilization_s, spans)


@dataclass(frozen=True)
class SweepCheck:
    """The plan of the next scan and why it must not start (empty: it may)."""

    setup: SweepSetup
    refusals: tuple[str, ...]

    @property
    def plan(self) -> SweepPlan:
        """Return the expected duration of the scan."""
        return self.setup.plan()

    def sentence(self) -> str:
        """Return every refusal as one text ("" when the scan may start)."""
        return " ".join(self.refusals)


def read_sweep_setup(ctp: CTP10) -> SweepSetup:
    """Read the scan settings, each assigned TLS (laser model, range, speed) and the status."""
    sweep = ctp.sweep
    start = float(sweep.get("start_nm"))
    stop = float(sweep.get("stop_nm"))
    sampling = float(sweep.get("sampling_pm"))
    stabilization = float(sweep.get("stabilization_s"))
    lasers: list[AssignedLaser] = []
    for n in range(TUNABLE_LASERS[0], TUNABLE_LASERS[1] + 1):
        tls = ctp.tls(n)
        position = int(tls.get("identifier"))
        if position == 0:
            continue
        model = ctp.reference_laser(position).model()
        lasers.append(AssignedLaser(
            n, position, model, float(tls.get("start_nm")), float(tls.get("stop_nm")),
            float(tls.get("speed_nm_s")),
        ))
    return SweepSetup(start, stop, sampling, stabilization, tuple(lasers), ctp.condition())


def check_sweep(ctp: CTP10) -> SweepCheck:
    """Read the setup of the next scan and return it with the reasons it must not start."""
    setup = read_sweep_setup(ctp)
    refusals = list(sweep_refusals(setup))
    try:
        ctp.sweep.control("sampling_pm").validate(setup.sampling_pm)
    except OutOfRangeError as exc:
        refusals.append(f"The sampling step {format_number(setup.sampling_pm)} pm is not one "
                        f"the CTP10 takes: {exc.valid}.")
    return SweepCheck(setup, tuple(refusals))


def _nm(value: float) -> str:
    return format_number(round(value, 3))


def _span(start_nm: float, stop_nm: float) -> str:
    return f"{_nm(start_nm)}–{_nm(stop_nm)} nm"


def sweep_refusals(setup: SweepSetup) -> list[str]:
    """Return a sentence per reason the scan of setup cannot work (empty list: it can)."""
    refusals: list[str] = []
    if setup.condition & (STATUS_SCANNING | STATUS_REFERENCING):
        refusals.append("The instrument is already scanning (condition register "
                        f"{setup.condition}): wait for it to finish or abort it first.")
    if setup.stop_nm - setup.start_nm <= _NM_TOLERANCE:
        refusals.append(f"The scan start {_nm(setup.start_nm)} nm is not below its stop "
                        f"{_nm(setup.stop_nm)} nm.")
    if not setup.lasers:
        refusals.append("No tunable laser is assigned (TLS 1–4 are all at laser position 0): "
                        "assign one on the Tunable lasers tab.")
        return refusals
    refusals.extend(_shared_lasers(setup.lasers))
    for laser in setup.lasers:
        refusals.extend(_laser_refusals(laser))
    refusals.extend(_coverage_refusals(setup))
    return refusals


def _shared_lasers(lasers: Sequence[AssignedLaser]) -> list[str]:
    """Return a sentence per laser position assigned to two TLS or more (a settings conflict)."""
    by_position: dict[int, list[int]] = {}
    for laser in lasers:
        by_position.setdefault(laser.position, []).append(laser.tls)
    return [
        f"Laser {position} serves {' and '.join(f'TLS {n}' for n in slots)}: "
        "one laser can serve one TLS only."
        for position, slots in sorted(by_position.items()) if len(slots) > 1
    ]


def _laser_refusals(laser: AssignedLaser) -> list[str]:
    refusals: list[str] = []
    why = speed_refusal(laser.model, laser.speed_nm_s)
    if why:
        refusals.append(f"TLS {laser.tls} sweeps at {format_number(laser.speed_nm_s)} nm/s, "
                        f"but {why}.")
    facts = find_laser_model(laser.model)
    if (facts is not None and facts.min_nm is not None and facts.max_nm is not None
            and not facts.covers(laser.start_nm, laser.stop_nm)):
        refusals.append(f"TLS {laser.tls} is set to {_span(laser.start_nm, laser.stop_nm)}, "
                        f"outside its {facts.name}'s {_span(facts.min_nm, facts.max_nm)}.")
    if laser.stop_nm - laser.start_nm <= _NM_TOLERANCE:
        refusals.append(f"TLS {laser.tls} starts at {_nm(laser.start_nm)} nm, not below its "
                        f"stop {_nm(laser.stop_nm)} nm.")
    return refusals


def _uncovered(start_nm: float, stop_nm: float,
               spans: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Return the parts of start_nm–stop_nm that no span (start, stop) covers, ascending."""
    gaps: list[tuple[float, float]] = []
    position = start_nm
    for low, high in sorted(spans):
        if low > position + _NM_TOLERANCE:
            gaps.append((position, min(low, stop_nm)))
        position = max(position, high)
        if position >= stop_nm - _NM_TOLERANCE:
            break
    if position < stop_nm - _NM_TOLERANCE:
        gaps.append((position, stop_nm))
    return [(a, b) for a, b in gaps if b - a > _NM_TOLERANCE]


def _coverage_refusals(setup: SweepSetup) -> list[str]:
    start, stop = setup.start_nm, setup.stop_nm
    if stop <= start:
        return []
    sweeping = [laser for laser in setup.lasers if laser.speed_nm_s > 0]
    ranges = ", ".join(f"TLS {a.tls} {_span(a.start_nm, a.stop_nm)}" for a in sweeping)
    gaps = _uncovered(start, stop, [(a.start_nm, a.stop_nm) for a in sweeping])
    if not gaps:
        return []
    if gaps == [(start, stop)]:
        return [f"No assigned laser covers the scan {_span(start, stop)} "
                f"({ranges or 'no TLS has a speed'}): widen a TLS range or narrow the scan."]
    parts = ", ".join(_span(a, b) for a, b in gaps)
    return [f"{parts} of the scan {_span(start, stop)} is covered by no assigned laser "
            f"({ranges}): widen a TLS range or narrow the scan."]
