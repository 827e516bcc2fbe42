"""Resonance metrics on synthetic Lorentzian dips of known width, and IL normalisation."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from ctp10_gui.models.resonance import (
    RESONANCE_COLUMNS,
    RESONANCE_HEADER_MEANINGS,
    RESONANCE_HEADERS,
    analyse_resonances,
    export_resonance_csv,
    insertion_loss_unit,
    normalise_insertion_loss,
    resonance_cells,
    resonance_csv,
    zoom_span_nm,
)


def lorentzian_comb_db(x: np.ndarray, centres: list[float], fwhm: list[float],
                       depth: list[float], baseline_db: float = -3.0) -> np.ndarray:
    """Return a baseline (dB) times 1 − Σ depth·L(λ) of Lorentzian dips of given FWHM (nm)."""
    linear = np.ones_like(x)
    for c, w, a in zip(centres, fwhm, depth, strict=True):
        half = w / 2
        linear -= a * half**2 / ((x - c) ** 2 + half**2)
    return baseline_db + 10 * np.log10(linear)


def test_width_and_q_of_a_comb_of_lorentzian_dips_within_2_percent() -> None:
    x = np.arange(1540.0, 1560.0, 0.001)  # 1 pm sampling, 20 001 points
    centres = [1542.1, 1544.3, 1546.5, 1548.7, 1550.9, 1553.1]  # FSR 2.2 nm
    q = [5_000.0, 10_000.0, 20_000.0, 8_000.0, 15_000.0, 30_000.0]
    fwhm = [c / qq for c, qq in zip(centres, q, strict=True)]
    depth = [0.9, 0.99, 0.5, 0.95, 0.8, 0.7]
    rows = analyse_resonances(x, lorentzian_comb_db(x, centres, fwhm, depth), count=10)
    assert [r.wavelength_nm for r in rows] == pytest.approx(centres, abs=0.0015)
    for row, w, qq, c in zip(rows, fwhm, q, centres, strict=True):
        assert row.fwhm_nm == pytest.approx(w, rel=0.02)
        assert row.loaded_q == pytest.approx(qq, rel=0.02)
        # Extinction: the comb's level at the centre (neighbours' tails included) below 1.
        at_centre = lorentzian_comb_db(np.array([c]), centres, fwhm, depth, baseline_db=0.0)
        assert row.extinction_db == pytest.approx(-float(at_centre[0]), rel=0.02)
        assert row.baseline == pytest.approx(-3.0, abs=0.05)  # tails lower it by ~0.02 dB
    assert [r.fsr_nm for r in rows] == pytest.approx([2.2] * 6, abs=0.002)


def test_a_single_dip_has_no_fsr_and_a_dip_cut_by_the_edge_has_no_width() -> None:
    x = np.arange(1549.0, 1551.0, 0.0005)
    single = analyse_resonances(x, lorentzian_comb_db(x, [1550.0], [0.1], [0.9]))
    assert len(single) == 1
    assert math.isnan(single[0].fsr_nm)
    assert single[0].fwhm_nm == pytest.approx(0.1, rel=0.02)
    # A dip whose left half-depth point lies before the trace starts.
    cut = analyse_resonances(x, lorentzian_comb_db(x, [1549.02], [0.2], [0.9]))
    assert len(cut) == 1 and math.isnan(cut[0].fwhm_nm) and math.isnan(cut[0].loaded_q)


def test_a_flat_or_empty_trace_has_no_dips() -> None:
    x = np.linspace(1500, 1600, 1001)
    assert analyse_resonances(x, np.zeros_like(x)) == []
    assert analyse_resonances(np.array([]), np.array([])) == []


def test_csv_export_is_read_back_with_the_same_numbers(tmp_path: Path) -> None:
    x = np.arange(1545.0, 1555.0, 0.001)
    rows = analyse_resonances(x, lorentzian_comb_db(x, [1548.0, 1550.0, 1552.0], [0.1] * 3,
                                              [0.9, 0.8, 0.7]))
    path = export_resonance_csv(rows, tmp_path / "ring.csv", source="M4 C1 TF live")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "# source: M4 C1 TF live"
    table = list(csv.DictReader(lines[1:]))
    assert list(table[0]) == [header for header, _ in RESONANCE_COLUMNS]
    assert len(table) == 3
    for record, row in zip(table, rows, strict=True):
        assert float(record["wavelength_nm"]) == row.wavelength_nm
        assert float(record["fwhm_nm"]) == row.fwhm_nm
        assert float(record["loaded_q"]) == row.loaded_q
        assert float(record["fsr_nm"]) == row.fsr_nm


def test_unknown_values_are_empty_cells() -> None:
    x = np.arange(1549.0, 1551.0, 0.0005)
    text = resonance_csv(analyse_resonances(x, lorentzian_comb_db(x, [1550.0], [0.1], [0.9])))
    header, row = text.splitlines()
    assert header.startswith("wavelength_nm,extinction_ratio_db,fwhm_nm")
    assert row.split(",")[4] == ""  # fsr_nm of a lone dip


def test_insertion_loss_is_the_trace_minus_the_interpolated_reference() -> None:
    x = np.linspace(1530.0, 1570.0, 401)
    trace = -3.0 - 0.05 * (x - 1550.0)  # a sloped loss, dBm
    ref_x = np.linspace(1535.0, 1565.0, 31)[::-1]  # coarser, descending, narrower
    ref = 2.0 - 0.05 * (ref_x - 1550.0)  # the same slope, 5 dB higher
    out_x, out_y = normalise_insertion_loss(x, trace, ref_x, ref)
    inside = (x >= 1535.0) & (x <= 1565.0)
    assert out_x is not x and np.array_equal(out_x, x)
    assert out_y[inside] == pytest.approx(np.full(inside.sum(), -5.0))
    assert np.isnan(out_y[~inside]).all()  # never extrapolated


def test_insertion_loss_refuses_arrays_that_do_not_pair_up() -> None:
    with pytest.raises(ValueError, match="1-D arrays of one length"):
        normalise_insertion_loss([1, 2, 3], [1, 2], [1, 2], [0, 0])
    with pytest.raises(ValueError, match="at least 2 points"):
        normalise_insertion_loss([1, 2], [1, 2], [1], [0])


def test_insertion_loss_refuses_a_reference_beside_the_trace_or_in_another_unit() -> None:
    with pytest.raises(ValueError) as refused:
        normalise_insertion_loss([1530.0, 1570.0], [0, 0], [1502.0, 1510.0], [1, 1])
    assert str(refused.value) == (
        "the reference (1502.000–1510.000 nm) does not overlap the trace (1530.000–1570.000 nm)")
    assert insertion_loss_unit("dBm", "dBm") == insertion_loss_unit("dB", "dB") == "dB"
    with pytest.raises(ValueError, match="the trace is in dB and the reference in dBm; choose"):
        insertion_loss_unit("dB", "dBm")


def test_table_cells_for_a_view() -> None:
    x = np.arange(1545.0, 1555.0, 0.001)
    rows = analyse_resonances(x, lorentzian_comb_db(x, [1548.0, 1550.0], [0.155, 0.155],
                                                    [0.9, 0.9]))
    assert len(RESONANCE_HEADERS) == len(RESONANCE_HEADER_MEANINGS)
    cells = dict(zip(RESONANCE_HEADERS, resonance_cells(rows[1]), strict=True))
    assert cells["λ (nm)"] == "1550.0000" and cells["FSR (nm)"] == "2.0000"
    assert float(cells["Depth (dB)"]) == pytest.approx(10.0, abs=0.1)  # 1 − 0.9, tails aside
    assert float(cells["ER (dB)"]) == pytest.approx(10.0, abs=0.1)
    assert float(cells["FWHM (pm)"]) == pytest.approx(155.0, rel=0.02)
    assert int(cells["Loaded Q"].replace(" ", "")) == pytest.approx(10_000, rel=0.02)
    lone = analyse_resonances(x, lorentzian_comb_db(x, [1550.0], [0.155], [0.9]))
    assert resonance_cells(lone[0])[-1] == "—"


def test_peaks_of_a_drop_port_have_their_width_and_q_within_2_percent() -> None:
    # A drop port: Lorentzian peaks 0.9 of full scale over a -30 dB floor, Q 8 000 and 20 000.
    x = np.arange(1545.0, 1555.0, 0.0005)
    centres, q = [1548.0, 1552.0], [8_000.0, 20_000.0]
    linear = np.full_like(x, 0.001)
    for c, qq in zip(centres, q, strict=True):
        half = c / qq / 2
        linear += 0.9 * half**2 / ((x - c) ** 2 + half**2)
    rows = analyse_resonances(x, 10 * np.log10(linear), kind="peak", count=5)
    assert [r.kind for r in rows] == ["peak", "peak"]
    assert [r.wavelength_nm for r in rows] == pytest.approx(centres, abs=0.001)
    # The floor (0.001) is lifted a little by the other peak's tail: half depth is within 1 %.
    assert [r.loaded_q for r in rows] == pytest.approx(q, rel=0.02)
    # Extinction: the peak over the lowest level of its half of the trace (tails included).
    own_half = linear[x < 1550.0]
    assert rows[0].extinction_db == pytest.approx(10 * np.log10(own_half.max() / own_half.min()),
                                                  abs=0.01)
    assert rows[0].fsr_nm == pytest.approx(4.0, abs=0.001)


def test_zoom_span_is_a_few_widths_around_the_resonance() -> None:
    x = np.arange(1545.0, 1555.0, 0.001)
    rows = analyse_resonances(x, lorentzian_comb_db(x, [1548.0, 1550.0], [0.1, 0.1], [0.9, 0.9]))
    start, stop = zoom_span_nm(rows[0])
    assert (start, stop) == pytest.approx((1548.0 - 0.3, 1548.0 + 0.3), abs=0.003)
    # Cut by the trace edge (no width): half a nm each side, never past half the FSR.
    cut = analyse_resonances(x, lorentzian_comb_db(x, [1545.02, 1545.6], [0.2, 0.2], [0.9, 0.9]))
    assert math.isnan(cut[0].fwhm_nm)
    assert zoom_span_nm(cut[0]) == pytest.approx((1545.02 - 0.29, 1545.02 + 0.29), abs=0.002)
