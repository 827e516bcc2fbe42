"""Detector read-backs: calibration wavelength and power unit of chosen channels."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from ctp10_gui.hardware.ctp10 import CTP10
from ctp10_gui.hardware.scpi import PowerUnit

__all__ = ["DetectorReading", "read_detectors", "read_wavelengths"]


class DetectorReading(NamedTuple):
    """What one detector channel is set to: calibration wavelength (nm) and power unit."""

    wavelength_nm: float
    unit: PowerUnit


def read_detectors(ctp: CTP10, module: int, channels: Iterable[int]) -> dict[int, DetectorReading]:
    """Return each channel's (1–6) power unit and wavelength (nm) on module 1–20."""
    readings: dict[int, DetectorReading] = {}
    for channel in channels:
        detector = ctp.detector(module, channel)
        unit = detector.get("power_unit")
        readings[channel] = DetectorReading(float(detector.get("wavelength_nm")), unit)
    return readings


def read_wavelengths(ctp: CTP10, module: int, channels: Iterable[int]) -> dict[int, float]:
    """Return each channel's (1–6) calibration wavelength (nm) on module 1–20."""
    return {c: float(ctp.detector(module, c).get("wavelength_nm")) for c in channels}
