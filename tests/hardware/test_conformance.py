"""Conformance: every declared control against the simulator over TCP, in every unsure variant.

Each control of every channel class in hardware/scpi.py is read; a settable one is set to a
valid value of its declared range (the laser's range where it has one) and read back. The
unsure reply variants of the reference are combined pairwise (every pair of values of any two
variants meets in at least one simulator); each combination also takes a live snapshot with a
channel under range, runs a short sweep and fetches its trace. Controls and channel classes are
enumerated, so a newly declared control is covered without touching this file.
"""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from ctp10_gui.hardware.ctp10 import CTP10, TraceType
from ctp10_gui.hardware.power import ChannelStatus
from ctp10_gui.hardware.scpi import (
    Channel,
    Control,
    Detector,
    ReferenceLaser,
    Sweep,
    TunableLaser,
)
from ctp10_gui.hardware.transport import VisaTransport
from ctp10_gui.procedures import laser_model_controls
from ctp10_gui.simulator import SimulatorServer

# The unsure variants of /work/shared/ctp10-scpi.md, as SimulatorOptions fields and values.
VARIANTS: dict[str, tuple[Any, ...]] = {
    "compound": (True, False),
    "unit_reply": ("number", "text"),
    "power_reply": ("bare", "with_unit"),
    "block_trailer": (False, True),
    "under_range": ("sentinel", "keysight", "inf"),
    "scan_bit_delay_s": (0.0, 0.3),  # the scanning bit appears late after :INIT
}


def pairwise(variants: dict[str, tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Return few combinations in which every pair of values of two variants occurs (greedy)."""
    names = list(variants)
    uncovered = {((a, va), (b, vb)) for a, b in itertools.combinations(names, 2)
                 for va in variants[a] for vb in variants[b]}
    chosen: list[dict[str, Any]] = []
    candidates = [dict(zip(names, values, strict=True))
                  for values in itertools.product(*variants.values())]

    def pairs(combo: dict[str, Any]) -> set[tuple[tuple[str, Any], tuple[str, Any]]]:
        return {((a, combo[a]), (b, combo[b])) for a, b in itertools.combinations(names, 2)}

    while uncovered:
        best = max(candidates, key=lambda combo: len(pairs(combo) & uncovered))
        chosen.append(best)
        uncovered -= pairs(best)
    return chosen


COMBINATIONS = pairwise(VARIANTS)

# Every channel class of scpi.py and the instance tested (installed hardware in the simulator).
CHANNELS: dict[type[Channel], Callable[[CTP10], Channel]] = {
    Sweep: lambda ctp: ctp.sweep,
    TunableLaser: lambda ctp: ctp.tls(1),
    ReferenceLaser: lambda ctp: ctp.reference_laser(1),
    Detector: lambda ctp: ctp.detector(4, 1),
}
# Settable controls whose only valid value here is the one they hold: any other laser position
# is empty (-241) or serves another TLS (-221), and a TLS with no laser takes no setting.
KEEP_CURRENT = {(TunableLaser, "identifier")}


def combination_id(combo: dict[str, Any]) -> str:
    return "-".join(str(value) for value in combo.values())


def test_the_combinations_cover_every_pair_of_variant_values() -> None:
    for (a, values_a), (b, values_b) in itertools.combinations(VARIANTS.items(), 2):
        for va, vb in itertools.product(values_a, values_b):
            assert any(c[a] == va and c[b] == vb for c in COMBINATIONS), (a, va, b, vb)
    assert len(COMBINATIONS) < 10  # one simulator each: keep the module fast


def test_every_channel_class_is_tested() -> None:
    assert set(Channel.__subclasses__()) == set(CHANNELS)


def fitted_controls(cls: type[Channel], channel: Channel) -> list[Control]:
    """Return cls's controls with the ranges of the laser behind channel, if any."""
    model = channel.model() if isinstance(channel, TunableLaser | ReferenceLaser) else None
    return list(laser_model_controls(cls.controls, model).values())


def valid_value(control: Control, current: Any) -> Any:
    """Return a value of control's declared range, different from current where possible."""
    kind = control.kind
    if kind is bool:
        return not current
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return next(member for member in kind if member != current)
    if control.minimum is not None and control.maximum is not None:
        for fraction in (0.37, 0.61):
            value = control.minimum + fraction * (control.maximum - control.minimum)
            if control.step is not None:
                value = control.minimum + round((value - control.minimum) / control.step) * (
                    control.step)
            if kind is int:
                value = round(value)
            if control.allowed and kind is int:
                value = min(control.allowed, key=lambda v: abs(v - value))
            if not _same(value, current):
                return kind(value)
    assert control.allowed, f"{control.name}: no declared range to choose from"
    return next(v for v in control.allowed if not _same(v, current))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float | int) and isinstance(b, float | int):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
    return bool(a == b)


@pytest.fixture
def connected(sim_factory: Callable[..., SimulatorServer]) -> Iterator[
        Callable[[dict[str, Any]], tuple[SimulatorServer, CTP10]]]:
    """Return connect(variants) -> (simulator, CTP10 connected to it through pyvisa-py)."""
    opened: list[CTP10] = []

    def connect(variants: dict[str, Any]) -> tuple[SimulatorServer, CTP10]:
        # Fast instrument time: a switched-on laser or a sweep is done within a reply.
        sim = sim_factory(speedup=1e5, drift=False, noise_db=0.0, **variants)
        # A refused compound query costs one reply deadline: short, but far above a reply.
        ctp = CTP10(VisaTransport(sim.address, io_timeout_s=0.5, open_timeout_s=2.0))
        ctp.connect()
        opened.append(ctp)
        return sim, ctp

    yield connect
    for ctp in opened:
        ctp.close()


@pytest.mark.parametrize("variants", COMBINATIONS, ids=combination_id)
def test_every_control_reads_sets_and_reads_back(connected: Callable,
                                                 variants: dict[str, Any]) -> None:
    _sim, ctp = connected(variants)
    failures: list[str] = []
    for cls, pick in CHANNELS.items():
        channel = pick(ctp)
        for control in fitted_controls(cls, channel):
            where = f"{cls.__name__}.{control.name}"
            current = channel.get(control.name)
            if control.read_only:
                continue
            value = current if (cls, control.name) in KEEP_CURRENT else valid_value(
                control, current)
            read_back = channel.set(control.name, value)  # validated, sent, checked, read back
            if not _same(read_back, value):
                failures.append(f"{where}: set {value!r}, read back {read_back!r}")
    assert not failures, "\n".join(failures)
    assert ctp.error_queue() == []


@pytest.mark.parametrize("variants", COMBINATIONS, ids=combination_id)
def test_live_power_sweep_and_trace_in_each_variant(connected: Callable,
                                                   variants: dict[str, Any]) -> None:
    sim, ctp = connected(variants)
    sim.instrument.set_level_dbm(4, 3, -95.0)  # below the −80 dBm floor
    ctp.detector(4, 2).set("power_unit", "MW")  # one channel in mW: values still in dBm
    snapshot = ctp.snapshot(4, (1, 2, 3, 4))
    statuses = [ChannelStatus(s) for s in snapshot.status]
    assert statuses == [ChannelStatus.OK, ChannelStatus.OK, ChannelStatus.UNDER, ChannelStatus.OK]
    ok = snapshot.values_dbm[[0, 1, 3]]
    assert np.all(np.isfinite(ok)) and np.all((ok > -80) & (ok < 10))
    assert ctp.session.compound is variants["compound"]
    ctp.sweep.set("start_nm", 1550.0)
    ctp.sweep.set("stop_nm", 1551.0)
    ctp.sweep.set("sampling_pm", 10)
    ctp.sweep.set("stabilization_s", 0)
    sim.instrument.speedup = 0.5  # 1 nm at 20 nm/s lasts 0.1 s: the scanning bit is seen
    ctp.start_sweep()
    assert ctp.wait_until_idle(timeout_s=10.0, poll_s=0.02, appear_s=1.0)
    for trace_type in (TraceType.TF_LIVE, TraceType.RAW_LIVE):
        trace = ctp.fetch_trace(4, 1, trace_type, with_x=trace_type is TraceType.RAW_LIVE)
        assert trace.values.size == 101 and np.all(np.isfinite(trace.values))
        np.testing.assert_allclose(trace.wavelength_nm[[0, -1]], [1550.0, 1551.0])
    assert ctp.condition() == 0 and ctp.error_queue() == []
