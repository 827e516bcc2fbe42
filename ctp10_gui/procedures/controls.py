"""Instrument settings by group (sweep, TLS n, reference laser r, detector m/c): read and set.

A ControlGroup names which channel object of the driver a settings form talks to, so the form
never reaches the driver itself; the functions here run in the link worker.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal, NamedTuple

from ctp10_gui.hardware.ctp10 import CTP10
from ctp10_gui.hardware.errors import InstrumentError
from ctp10_gui.hardware.laser_models import find_laser_model
from ctp10_gui.hardware.scpi import Channel, Control, speed_control

__all__ = [
    "SWEEP_GROUP",
    "ControlGroup",
    "TunableLaserInfo",
    "detector_group",
    "laser_model_controls",
    "read_control",
    "read_controls",
    "read_laser_identity",
    "read_tunable_laser",
    "reference_laser_group",
    "tls_group",
    "write_control",
]

GroupKind = Literal["sweep", "tls", "reference_laser", "detector"]


@dataclass(frozen=True)
class ControlGroup:
    """One channel of settings: sweep, TLS 1–4, reference laser 1–10, detector (1–20, 1–6)."""

    kind: GroupKind
    index: tuple[int, ...] = ()

    def channel(self, ctp: CTP10) -> Channel:
        """Return the driver's channel object of this group (indices are checked there)."""
        if self.kind == "sweep":
            return ctp.sweep
        if self.kind == "tls":
            return ctp.tls(*self.index)
        if self.kind == "reference_laser":
            return ctp.reference_laser(*self.index)
        return ctp.detector(*self.index)


SWEEP_GROUP = ControlGroup("sweep")


def tls_group(n: int) -> ControlGroup:
    """Return the settings of tunable laser n (1–4)."""
    return ControlGroup("tls", (n,))


def reference_laser_group(r: int) -> ControlGroup:
    """Return the settings of reference laser r (1–10)."""
    return ControlGroup("reference_laser", (r,))


def detector_group(module: int, channel: int) -> ControlGroup:
    """Return the settings of detector channel 1–6 of module 1–20."""
    return ControlGroup("detector", (module, channel))


def read_controls(ctp: CTP10, group: ControlGroup,
                  names: Iterable[str]) -> dict[str, object]:
    """Return each named control of group, or the InstrumentError/ValueError reading it raised."""
    # A LinkError ends the read (the link is gone); a refusal of one control hides no other.
    channel = group.channel(ctp)
    values: dict[str, object] = {}
    for name in names:
        try:
            values[name] = channel.get(name)
        except (InstrumentError, ValueError) as exc:
            values[name] = exc
    return values


def read_control(ctp: CTP10, group: ControlGroup, name: str) -> object:
    """Return one control of group in its unit."""
    value: object = group.channel(ctp).get(name)
    return value


def write_control(ctp: CTP10, group: ControlGroup, name: str, value: object) -> object:
    """Validate and send one control of group, check SYST:ERR?, return the value read back."""
    readback: object = group.channel(ctp).set(name, value)
    return readback


class TunableLaserInfo(NamedTuple):
    """Which laser serves a TLS: its position 0–10 (0 = none) and model (None if unknown)."""

    position: int
    model: str | None


def read_tunable_laser(ctp: CTP10, n: int) -> TunableLaserInfo:
    """Return the laser position of TLS n (1–4) and that laser's model."""
    tls = ctp.tls(n)
    return TunableLaserInfo(int(tls.get("identifier")), tls.model())


def read_laser_identity(ctp: CTP10, r: int) -> str:
    """Return reference laser r's (1–10) *IDN? text, e.g. "EXFO,T100S-HP,0,6.06"."""
    return ctp.reference_laser(r).identity()


# Controls whose valid range is the laser's rather than the CTP10's command range.
_WAVELENGTH_CONTROLS = ("start_nm", "stop_nm", "wavelength_nm")
_POWER_CONTROLS = ("power_dbm",)


def laser_model_controls(controls: Sequence[Control], model: str | None) -> dict[str, Control]:
    """Return name -> control with the laser model's range, power and speeds where known."""
    # Facts the model lacks (hardware/laser_models.py) keep the command's own range.
    facts = find_laser_model(model)
    spans: dict[str, tuple[float | None, float | None]] = {}
    if facts is not None:
        spans = {name: (facts.min_nm, facts.max_nm) for name in _WAVELENGTH_CONTROLS}
        spans.update({name: (facts.min_power_dbm, facts.max_power_dbm)
                      for name in _POWER_CONTROLS})
    adapted: dict[str, Control] = {}
    for control in controls:
        if control.name == "speed_nm_s":
            control = speed_control(model)
        elif control.derive is not None and control.set_command is not None:
            # Set in another unit (THz, mW): the laser's span converted to that unit.
            source, convert = control.derive
            low, high = spans.get(source, (None, None))
            if low is not None and high is not None:
                low, high = sorted((convert(low), convert(high)))
                control = replace(control, minimum=low, maximum=high)
        else:
            low, high = spans.get(control.name, (None, None))
            if low is not None and high is not None:
                control = replace(control, minimum=low, maximum=high)
        adapted[control.name] = control
    return adapted
