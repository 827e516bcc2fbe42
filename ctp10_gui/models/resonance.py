"""Resonance analysis of a transmission trace: extinction, FWHM, loaded Q, FSR; IL normalisation.

Plain numpy on arrays (wavelength in nm ascending, values in dB or dBm), so the trace view, a
script or a test calls the same functions:

    rows = analyse_resonances(trace.wavelength_nm, trace.values, kind="dip", count=10)
    cells = [resonance_cells(row) for row in rows]  # text under RESONANCE_HEADERS
    export_resonance_csv(rows, "ring.csv")
    x, y = normalise_insertion_loss(trace.wavelength_nm, trace.values,
                                    reference.wavelength_nm, reference.values)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from ctp10_gui.models.traces import find_resonances

__all__ = [
    "RESONANCE_COLUMNS",
    "RESONANCE_HEADERS",
    "RESONANCE_HEADER_MEANINGS",
    "ResonanceMetrics",
    "analyse_resonances",
    "export_resonance_csv",
    "insertion_loss_unit",
    "normalise_insertion_loss",
    "resonance_cells",
    "resonance_csv",
    "zoom_span_nm",
]

FloatArray = npt.NDArray[np.float64]

# CSV header and the ResonanceMetrics field of each column, in order.
RESONANCE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("wavelength_nm", "wavelength_nm"),
    ("extinction_ratio_db", "extinction_db"),
    ("fwhm_nm", "fwhm_nm"),
    ("loaded_q", "loaded_q"),
    ("fsr_nm", "fsr_nm"),
    ("depth_db", "depth_db"),
)


@dataclass(frozen=True)
class ResonanceMetrics:
    """One dip or peak: centre (nm), extinction (dB), FWHM (nm), Q, FSR (nm); NaN if unknown."""

    index: int  # sample of the extreme
    wavelength_nm: float
    value: float  # trace value at the extreme (minimum of a dip, maximum of a peak), dB or dBm
    baseline: float  # off-resonance level the resonance is measured from, same unit
    depth_db: float  # prominence, as find_resonances reports it
    extinction_db: float  # |baseline − value|
    fwhm_nm: float  # full width at half depth in linear power, interpolated
    loaded_q: float  # wavelength / FWHM
    fsr_nm: float  # distance to the nearest other resonance found
    kind: Literal["dip", "peak"] = "dip"


def analyse_resonances(wavelength_nm: npt.ArrayLike, values_db: npt.ArrayLike, *,
                       kind: Literal["dip", "peak"] = "dip", count: int = 10,
                       min_depth_db: float = 0.0) -> list[ResonanceMetrics]:
    """Return up to count (1–1000) deepest dips or highest peaks with metrics, by ascending λ."""
    # Each resonance owns the span halfway to its neighbours (the trace edges at the ends): its
    # baseline is the highest (dip) or lowest (peak) value there, its half-depth crossings are
    # searched there.
    x = np.asarray(wavelength_nm, dtype=np.float64)
    y = np.asarray(values_db, dtype=np.float64)
    found = sorted(find_resonances(x, y, kind=kind, count=count, min_depth_db=min_depth_db),
                   key=lambda r: r.wavelength_nm)
    centres = [r.index for r in found]
    rows: list[ResonanceMetrics] = []
    for k, res in enumerate(found):
        lo = 0 if k == 0 else (centres[k - 1] + res.index) // 2
        hi = y.size - 1 if k == len(found) - 1 else (res.index + centres[k + 1]) // 2
        window = y[lo:hi + 1]
        finite = window[np.isfinite(window)]
        if finite.size == 0:
            baseline = math.nan
        else:
            baseline = float(finite.max() if kind == "dip" else finite.min())
        fwhm = _fwhm_nm(x, y, res.index, lo, hi, baseline)
        gaps = [abs(res.wavelength_nm - other.wavelength_nm)
                for j, other in enumerate(found) if j in (k - 1, k + 1)]
        rows.append(ResonanceMetrics(
            index=res.index,
            wavelength_nm=res.wavelength_nm,
            value=res.value,
            baseline=baseline,
            depth_db=res.depth_db,
            extinction_db=abs(baseline - res.value),
            fwhm_nm=fwhm,
            loaded_q=res.wavelength_nm / fwhm if fwhm > 0 else math.nan,
            fsr_nm=min(gaps) if gaps else math.nan,
            kind=kind,
        ))
    return rows


def _fwhm_nm(x: FloatArray, y: FloatArray, centre: int, lo: int, hi: int,
             baseline_db: float) -> float:
    """Return the width (nm) at half the linear depth; NaN if a side never returns to baseline."""
    if not math.isfinite(baseline_db):
        return math.nan
    linear = np.power(10.0, y[lo:hi + 1] / 10.0)
    half = 0.5 * (10.0 ** (baseline_db / 10.0) + 10.0 ** (y[centre] / 10.0))
    c = centre - lo
    # Outside the half-depth level: above it for a dip, below it for a peak. NaN compares
    # False, so a gap never counts as a crossing.
    outside = linear >= half if y[centre] < baseline_db else linear <= half
    left = np.flatnonzero(outside[:c])
    right = np.flatnonzero(outside[c + 1:])
    if left.size == 0 or right.size == 0:
        return math.nan
    i = int(left[-1])  # last sample outside on the left; i + 1 lies inside
    j = c + 1 + int(right[0])  # first sample outside on the right; j - 1 lies inside
    xs = x[lo:hi + 1]
    left_nm = _crossing(xs[i], xs[i + 1], linear[i], linear[i + 1], half)
    right_nm = _crossing(xs[j - 1], xs[j], linear[j - 1], linear[j], half)
    return float(right_nm - left_nm)


def _crossing(x0: float, x1: float, y0: float, y1: float, level: float) -> float:
    """Return where the line through (x0, y0), (x1, y1) meets level (x0 if flat)."""
    if y1 == y0:
        return float(x0)
    return float(x0 + (level - y0) * (x1 - x0) / (y1 - y0))


# Table headers for a view, in the order of resonance_cells, and what each one means.
RESONANCE_HEADERS = ("λ (nm)", "Depth (dB)", "ER (dB)", "FWHM (pm)", "Loaded Q", "FSR (nm)")
RESONANCE_HEADER_MEANINGS = (
    "Centre wavelength: the sample at the dip's minimum (peak's maximum)",
    "Prominence: how far the resonance stands out of the highest level between it and a "
    "deeper one",
    "Extinction ratio: off-resonance baseline (highest level halfway to the neighbours) "
    "against the resonance",
    "Full width at half depth, in linear power, interpolated between samples",
    "Loaded quality factor: λ / FWHM",
    "Free spectral range: distance to the nearest listed resonance",
)


def resonance_cells(row: ResonanceMetrics) -> tuple[str, ...]:
    """Return a resonance's cells as text under RESONANCE_HEADERS ("—" where unknown)."""

    def text(value: float, spec: str) -> str:
        # Thousands are grouped with a space (10 000), never a comma that reads as decimals.
        return format(value, spec).replace(",", " ") if math.isfinite(value) else "—"

    return (
        text(row.wavelength_nm, ".4f"),
        text(row.depth_db, ".2f"),
        text(row.extinction_db, ".2f"),
        text(row.fwhm_nm * 1e3, ".2f"),
        text(row.loaded_q, ",.0f"),
        text(row.fsr_nm, ".4f"),
    )


def resonance_csv(rows: Sequence[ResonanceMetrics], *, source: str = "") -> str:
    """Return the table as CSV text (a "# source" line first if given; NaN as empty cells)."""
    lines = [f"# source: {source}"] if source else []
    lines.append(",".join(header for header, _ in RESONANCE_COLUMNS))
    for row in rows:
        cells = []
        for _, name in RESONANCE_COLUMNS:
            value = float(getattr(row, name))
            cells.append(repr(value) if math.isfinite(value) else "")
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


def export_resonance_csv(rows: Sequence[ResonanceMetrics], path: str | Path, *,
                         source: str = "") -> Path:
    """Write the table to path as CSV (UTF-8) and return the path."""
    target = Path(path)
    target.write_text(resonance_csv(rows, source=source), encoding="utf-8")
    return target


def normalise_insertion_loss(
    wavelength_nm: npt.ArrayLike, values_db: npt.ArrayLike,
    reference_wavelength_nm: npt.ArrayLike, reference_db: npt.ArrayLike,
) -> tuple[FloatArray, FloatArray]:
    """Return (λ nm, trace − reference dB) on the trace's λ; NaN where the reference has no data."""
    # The reference is interpolated linearly in dB on the trace's wavelengths; it is never
    # extrapolated: outside its span (or next to its NaN samples) the result is NaN.
    x = np.array(wavelength_nm, dtype=np.float64)
    y = np.asarray(values_db, dtype=np.float64)
    rx = np.asarray(reference_wavelength_nm, dtype=np.float64)
    ry = np.asarray(reference_db, dtype=np.float64)
    if x.shape != y.shape or rx.shape != ry.shape or x.ndim != 1 or rx.ndim != 1:
        raise ValueError("trace and reference must each be two 1-D arrays of one length")
    if rx.size < 2:
        raise ValueError("the reference needs at least 2 points to interpolate")
    order = np.argsort(rx, kind="stable")
    rx, ry = rx[order], ry[order]
    reference = np.interp(x, rx, ry, left=np.nan, right=np.nan)
    if x.size and np.isnan(reference).all():
        raise ValueError(
            f"the reference ({_span_text(rx)}) does not overlap the trace ({_span_text(x)})")
    return x, y - reference


def _span_text(x: FloatArray) -> str:
    """Return "a–b nm" for the finite wavelengths of x."""
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        return "no wavelengths"
    return f"{finite.min():.3f}–{finite.max():.3f} nm"


def insertion_loss_unit(trace_unit: str, reference_unit: str) -> str:
    """Return the unit of trace − reference ("dB"); ValueError unless both share dB or dBm."""
    # dBm − dBm is a loss in dB; dB − dB re-normalises a transfer function; a mix means nothing.
    if trace_unit != reference_unit or trace_unit not in ("dB", "dBm"):
        raise ValueError(f"the trace is in {trace_unit} and the reference in {reference_unit}; "
                         "choose a reference in the same unit")
    return "dB"


def zoom_span_nm(row: ResonanceMetrics, *, fwhm_each_side: float = 3.0,
                 fallback_half_nm: float = 0.5) -> tuple[float, float]:
    """Return (start, stop) nm around a resonance: fwhm_each_side FWHM (0.5–20) on each side."""
    # Without a width (cut by the trace edge) half a nm each side, never past half the FSR.
    if math.isfinite(row.fwhm_nm) and row.fwhm_nm > 0:
        half = fwhm_each_side * row.fwhm_nm
    else:
        half = fallback_half_nm
        if math.isfinite(row.fsr_nm) and row.fsr_nm > 0:
            half = min(half, row.fsr_nm / 2)
    return (row.wavelength_nm - half, row.wavelength_nm + half)
