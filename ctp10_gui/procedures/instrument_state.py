"""The instrument's state for files: detectors, sweep, TLS and their lasers, references.

read_instrument_state is the snapshot every recording sidecar, flight-recorder save and trace
export carries (JSON-ready: numbers, text, booleans); describe_setting and state_changes turn
a set, or the difference between two snapshots, into event-row sentences.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from ctp10_gui.hardware.ctp10 import CTP10
from ctp10_gui.hardware.errors import InstrumentError
from ctp10_gui.hardware.laser_models import laser_model
from ctp10_gui.hardware.scpi import (
    TUNABLE_LASERS,
    Channel,
    Control,
    Detector,
    ReferenceLaser,
    Sweep,
    TunableLaser,
)
from ctp10_gui.procedures.controls import (
    SWEEP_GROUP,
    ControlGroup,
    detector_group,
    read_controls,
    reference_laser_group,
    tls_group,
)

__all__ = [
    "DETECTOR_SETTINGS",
    "LASER_SETTINGS",
    "SWEEP_SETTINGS",
    "TLS_SETTINGS",
    "apply_setting",
    "describe_setting",
    "read_instrument_state",
    "state_changes",
]

DETECTOR_SETTINGS = ("wavelength_nm", "power_unit", "x_unit")
SWEEP_SETTINGS = ("start_nm", "stop_nm", "sampling_pm", "stabilization_output",
                  "stabilization_s")
TLS_SETTINGS = ("start_nm", "stop_nm", "speed_nm_s", "power_dbm", "trigger_in")
LASER_SETTINGS = ("power_dbm", "output", "wavelength_nm")

# Snapshot sections holding settings by channel key ("1", "2"…) and the class naming them.
_SECTIONS: dict[str, tuple[str, type[Channel]]] = {
    "detectors": ("CH{}", Detector),
    "tunable_lasers": ("TLS {}", TunableLaser),
    "lasers": ("Laser {}", ReferenceLaser),
}


def _plain(value: object) -> object:
    """Return value as JSON text, number, boolean or None (enums by name, NaN as None)."""
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)


def _read_group(ctp: CTP10, group: ControlGroup, names: Iterable[str], where: str,
                errors: list[str]) -> dict[str, object]:
    """Return the readable controls of group; a refused one becomes a sentence in errors."""
    values: dict[str, object] = {}
    channel = group.channel(ctp)
    for name, value in read_controls(ctp, group, names).items():
        if isinstance(value, Exception):
            errors.append(f"{where} {channel.control(name).label}: {value}")
        else:
            values[name] = _plain(value)
    return values


def read_instrument_state(ctp: CTP10, module: int, channels: Iterable[int], *,
                          now: Callable[[], datetime] = datetime.now) -> dict[str, Any]:
    """Return detectors (module 1–20, channels 1–6), sweep, assigned TLS, their lasers, refs.

    A setting the instrument refuses is left out and named in "errors"; a LinkError ends it.
    """
    chans = [int(c) for c in channels]
    errors: list[str] = []
    detectors = {
        str(c): _read_group(ctp, detector_group(module, c), DETECTOR_SETTINGS,
                            f"M{module} CH{c}", errors)
        for c in chans
    }
    sweep = _read_group(ctp, SWEEP_GROUP, SWEEP_SETTINGS, "Sweep", errors)
    tunable: dict[str, dict[str, object]] = {}
    positions: list[int] = []
    for n in range(TUNABLE_LASERS[0], TUNABLE_LASERS[1] + 1):
        entry = _read_group(ctp, tls_group(n), ("identifier",), f"TLS {n}", errors)
        position = entry.get("identifier")
        if isinstance(position, int) and position > 0:
            entry.update(_read_group(ctp, tls_group(n), TLS_SETTINGS, f"TLS {n}", errors))
            if position not in positions:
                positions.append(position)
        tunable[str(n)] = entry
    lasers: dict[str, dict[str, object]] = {}
    for r in positions:
        identity = ctp.reference_laser(r).identity()
        lasers[str(r)] = {"identity": identity,
                          **_read_group(ctp, reference_laser_group(r), LASER_SETTINGS,
                                        f"Laser {r}", errors)}
    for entry in tunable.values():
        laser = lasers.get(str(entry.get("identifier")))
        if laser is not None:
            entry["laser_model"] = laser_model(str(laser["identity"]))
    references: dict[str, dict[str, object]] = {}
    for c in chans:
        try:
            result = ctp.reference_result(module, c)
        except InstrumentError as exc:
            errors.append(f"M{module} CH{c} reference: {exc}")
            continue
        references[str(c)] = {"state": result.state, "type": result.type,
                              "taken": _plain(result.taken)}
    return {
        "read_at": now().astimezone().isoformat(timespec="seconds"),
        "module": int(module),
        "detectors": detectors,
        "sweep": sweep,
        "tunable_lasers": tunable,
        "lasers": lasers,
        "references": references,
        "errors": errors,
    }


# ---------------------------------------------------------------- sentences for event rows


def _value_text(value: object, unit: str) -> str:
    if isinstance(value, bool):
        text = "ON" if value else "OFF"
    elif isinstance(value, enum.Enum):
        text = value.name
    elif isinstance(value, float):
        text = f"{value:.6g}"
    else:
        text = str(value)
    return f"{text} {unit}" if unit and not isinstance(value, bool | enum.Enum) else text


def _control(cls: type[Channel], name: str) -> Control | None:
    return next((c for c in cls.controls if c.name == name), None)


def _group_title(group: ControlGroup) -> str:
    if group.kind == "sweep":
        return "Sweep"
    if group.kind == "tls":
        return f"TLS {group.index[0]}"
    if group.kind == "reference_laser":
        return f"Laser {group.index[0]}"
    return f"M{group.index[0]} CH{group.index[1]}"


def _channel_class(group: ControlGroup) -> type[Channel]:
    return {"sweep": Sweep, "tls": TunableLaser, "reference_laser": ReferenceLaser,
            "detector": Detector}[group.kind]


def describe_setting(group: ControlGroup, name: str, value: object) -> str:
    """Return 'TLS 2 Sweep speed set to 50 nm/s' for a value the instrument read back."""
    control = _control(_channel_class(group), name)
    label, unit = (control.label, control.unit) if control is not None else (name, "")
    return f"{_group_title(group)} {label} set to {_value_text(value, unit)}"


def _path(group: ControlGroup, module: int | None) -> tuple[str, ...] | None:
    """Return where group's settings sit in a snapshot of module, None if they are not in it."""
    if group.kind == "sweep":
        return ("sweep",)
    if group.kind == "tls":
        return ("tunable_lasers", str(group.index[0]))
    if group.kind == "reference_laser":
        return ("lasers", str(group.index[0]))
    if group.index[0] != module:
        return None
    return ("detectors", str(group.index[1]))


def apply_setting(state: Mapping[str, Any], group: ControlGroup, name: str,
                  value: object) -> dict[str, Any]:
    """Return a copy of state with one setting replaced (unchanged if state does not hold it)."""
    copy: dict[str, Any] = {k: dict(v) if isinstance(v, Mapping) else v
                            for k, v in state.items()}
    path = _path(group, copy.get("module"))
    if path is None:
        return copy
    section = copy.get(path[0])
    if not isinstance(section, dict):
        return copy
    if len(path) == 1:
        section[name] = _plain(value)
        return copy
    entry = section.get(path[1])
    if isinstance(entry, Mapping):
        section[path[1]] = {**entry, name: _plain(value)}
    return copy


def _flatten(state: Mapping[str, Any]) -> dict[tuple[str, str, str], object]:
    """Return {(section, channel key, setting): value} of the sections worth an event row."""
    flat: dict[tuple[str, str, str], object] = {}
    for name, value in dict(state.get("sweep") or {}).items():
        flat[("sweep", "", str(name))] = value
    for section in _SECTIONS:
        for key, entry in dict(state.get(section) or {}).items():
            if isinstance(entry, Mapping):
                for name, value in entry.items():
                    flat[(section, str(key), str(name))] = value
    return flat


def _label(section: str, key: str, name: str, module: object) -> tuple[str, str]:
    """Return ('TLS 2 Sweep speed', 'nm/s') for a flattened setting."""
    cls: type[Channel]
    if section == "sweep":
        where, cls = "Sweep", Sweep
    else:
        template, cls = _SECTIONS[section]
        where = template.format(key)
        if section == "detectors":
            where = f"M{module} {where}"
    control = _control(cls, name)
    if control is None:
        return f"{where} {name.replace('_', ' ')}", ""
    return f"{where} {control.label}", control.unit


def state_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Return 'TLS 1 Stop: 1570 → 1580 nm' per setting that differs between two snapshots.

    References have event rows of their own; snapshots of different modules compare only
    what they share besides the detectors.
    """
    before, after = _flatten(old), _flatten(new)
    if old.get("module") != new.get("module"):
        before = {k: v for k, v in before.items() if k[0] != "detectors"}
        after = {k: v for k, v in after.items() if k[0] != "detectors"}
    texts: list[str] = []
    for key in sorted(before.keys() & after.keys()):
        a, b = before[key], after[key]
        if a == b:
            continue
        label, unit = _label(*key, new.get("module"))
        suffix = f" {unit}" if unit and isinstance(b, int | float) and not isinstance(
            b, bool) else ""
        texts.append(f"{label}: {_short(a)} → {_short(b)}{suffix}")
    return texts


def _short(value: object) -> str:
    if isinstance(value, bool):
        return "ON" if value else "OFF"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
