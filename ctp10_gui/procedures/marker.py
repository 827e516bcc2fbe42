"""The trace view's live marker: where on the spectrum the marked detector measures."""

from __future__ import annotations

from ctp10_gui.hardware.ctp10 import CTP10

__all__ = ["read_detector_wavelength"]


def read_detector_wavelength(ctp10: CTP10, module: int, channel: int) -> float:
    """Return the calibration wavelength (nm, 1240–1680) of detector channel (1–6) of module."""
    return float(ctp10.detector(module, channel).get("wavelength_nm"))
