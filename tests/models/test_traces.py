"""TraceStore, export/open round trip, resonance finder and view decimation (no Qt)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest

from ctp10_gui.hardware.ctp10 import Identity, Trace, TraceType
from ctp10_gui.models.traces import (
    TraceStore,
    find_resonances,
    load_trace_file,
    sidecar_path,
)


def sim_identity() -> Identity:
    """Return the identity the simulator reports."""
    return Identity.from_idn("EXFO,CTP10,CTP10-SIM-0001,1.0")


def make_trace(points: int = 940_001, *, seed: int = 1) -> Trace:
    """Build a 1520–1614 nm TF trace with three Lorentzian dips on a noisy baseline."""
    rng = np.random.default_rng(seed)
    step_pm = 0.1
    x = 1520.0 + np.arange(points) * (step_pm / 1000.0)
    y = -1.0 + 0.02 * rng.standard_normal(points)
    for centre, depth, width in ((1530.0, 25.0, 0.01), (1550.0, 12.0, 0.02), (1580.0, 6.0, 0.05)):
        y -= depth / (1.0 + ((x - centre) / width) ** 2)
    # The instrument sends float32: store values that went through float32, like the driver.
    y = y.astype(">f4").astype(np.float64)
    return Trace(4, 1, TraceType.TF_LIVE, x, y, 1520.0, step_pm, "dB")


@pytest.fixture(scope="module")
def big_trace() -> Trace:
    return make_trace()


def test_store_adds_trace_with_metadata_and_notifies(big_trace: Trace) -> None:
    store = TraceStore()
    changes: list[int] = []
    store.subscribe(lambda: changes.append(len(store)))
    when = datetime(2024, 5, 1, 12, 30, 0, tzinfo=UTC)
    stored = store.add_trace(
        big_trace,
        identity=sim_identity(),
        settings={"start_nm": 1520.0, "sampling_pm": 0.1},
        acquired=when,
    )
    assert stored.label == "M4 C1 TF live"
    assert stored.points == 940_001
    assert stored.metadata["instrument"]["serial"] == "CTP10-SIM-0001"
    assert stored.metadata["trace_type_name"] == "TF live"
    assert stored.metadata["y_unit"] == "dB"
    assert stored.metadata["acquired"] == "2024-05-01T12:30:00+00:00"
    assert stored.metadata["settings"] == {"start_nm": 1520.0, "sampling_pm": 0.1}
    assert store.last is stored
    store.remove(stored.key)
    store.clear()  # already empty: no notification
    assert changes == [1, 0]


@pytest.mark.parametrize(
    "suffix",
    # Writing 940 001 rows of exact (repr) text takes ~2 s on this machine: the CSV case is slow.
    [pytest.param(".csv", marks=pytest.mark.slow), ".npy"],
)
def test_export_then_open_gives_identical_values(
    tmp_path, big_trace: Trace, suffix: str
) -> None:
    store = TraceStore()
    stored = store.add_trace(big_trace, identity=sim_identity(), settings={"speed_nm_s": 20})
    path = tmp_path / f"trace{suffix}"
    written = store.export(stored.key, path)
    assert written == [path, sidecar_path(path)]
    meta = json.loads(sidecar_path(path).read_text())
    assert meta["instrument"]["model"] == "CTP10"
    assert meta["trace_type"] == 1 and meta["y_unit"] == "dB" and meta["x_unit"] == "nm"
    assert meta["settings"] == {"speed_nm_s": 20}
    assert "exported" in meta and "acquired" in meta

    opened = store.open(path)
    assert np.array_equal(opened.wavelength_nm, big_trace.wavelength_nm)
    assert np.array_equal(opened.values, big_trace.values)
    assert (opened.module, opened.channel, opened.trace_type, opened.unit) == (4, 1, 1, "dB")
    assert opened.label == f"M4 C1 TF live (trace{suffix})"


def test_a_named_trace_keeps_its_name_through_export_and_open(tmp_path) -> None:
    store = TraceStore()
    x, y = np.array([1550.0, 1550.001]), np.array([-1.5, -2.0])
    store.add_arrays(x, y, unit="dBm", module=4, channel=1, trace_type=11)
    named = store.add_arrays(x, y, unit="dB", name="trace 1 − trace 1 (IL)")
    assert named.label == "trace 1 − trace 1 (IL)"
    assert named.title == "trace 2 · trace 1 − trace 1 (IL)"
    assert store.get(1).title == "trace 1 · M4 C1 raw live"
    store.export(named.key, tmp_path / "il.npy")
    opened = store.open(tmp_path / "il.npy")
    assert opened.title == "trace 3 · trace 1 − trace 1 (IL) (il.npy)"


def test_csv_without_sidecar_reads_its_own_metadata_and_nan(tmp_path) -> None:
    store = TraceStore()
    x = np.array([1550.0, 1550.001, 1550.002])
    y = np.array([-3.25, np.nan, -70.123456789])
    stored = store.add_arrays(x, y, unit="dBm", module=2, channel=3, trace_type=11)
    path = tmp_path / "raw.csv"
    store.export(stored.key, path)
    sidecar_path(path).unlink()
    x2, y2, meta = load_trace_file(path)
    assert np.array_equal(x2, x)
    assert np.array_equal(y2, y, equal_nan=True)
    assert meta["y_unit"] == "dBm" and meta["trace_type"] == 11


def test_damaged_sidecar_is_ignored_and_the_trace_still_opens(tmp_path) -> None:
    store = TraceStore()
    x, y = np.array([1550.0, 1550.001]), np.array([-3.5, -4.0])
    stored = store.add_arrays(x, y, unit="dBm", module=2, channel=3, trace_type=11)
    path = tmp_path / "raw.csv"
    store.export(stored.key, path)
    sidecar_path(path).write_text("[1, 2]")  # valid JSON, but not the metadata object
    opened = store.open(path)
    assert np.array_equal(opened.values, y)
    assert opened.unit == "dBm" and opened.channel == 3  # from the CSV's own metadata line


def test_export_refuses_unknown_suffix(tmp_path) -> None:
    store = TraceStore()
    stored = store.add_arrays(np.arange(3.0), np.zeros(3), unit="dB")
    with pytest.raises(ValueError, match=r"\.csv or \.npy"):
        store.export(stored.key, tmp_path / "trace.txt")


def test_open_refuses_foreign_npy(tmp_path) -> None:
    np.save(tmp_path / "other.npy", np.zeros((4, 3)))
    with pytest.raises(ValueError, match="shape"):
        TraceStore().open(tmp_path / "other.npy")


def test_resonance_finder_lists_deepest_dips_first(big_trace: Trace) -> None:
    dips = find_resonances(big_trace.wavelength_nm, big_trace.values, kind="dip", count=3)
    assert [round(d.wavelength_nm, 2) for d in dips] == [1530.0, 1550.0, 1580.0]
    for dip, depth in zip(dips, (25.0, 12.0, 6.0), strict=True):
        assert dip.depth_db == pytest.approx(depth, abs=0.3)
        assert dip.kind == "dip"
        assert big_trace.values[dip.index] == dip.value


def test_resonance_finder_finds_peaks_and_respects_min_depth() -> None:
    x = np.linspace(1500.0, 1600.0, 2001)
    y = np.full_like(x, -40.0)
    y[500] = -10.0  # 30 dB peak
    y[1500] = -35.0  # 5 dB peak
    peaks = find_resonances(x, y, kind="peak", count=5, min_depth_db=1.0)
    assert [(p.wavelength_nm, p.depth_db) for p in peaks] == [(1525.0, 30.0), (1575.0, 5.0)]
    assert [p.depth_db for p in find_resonances(x, y, kind="peak", min_depth_db=10.0)] == [30.0]






def test_a_descending_csv_opens_in_ascending_order(tmp_path) -> None:
    path = tmp_path / "from_other_tool.csv"
    path.write_text("wavelength_nm,value_dB\n1551.0,-3.0\n1550.5,-9.5\n1550.0,-1.0\n")
    x, y, _ = load_trace_file(path)
    assert x.tolist() == [1550.0, 1550.5, 1551.0]
    assert y.tolist() == [-1.0, -9.5, -3.0]


def test_a_file_with_shuffled_wavelengths_is_refused_with_a_sentence(tmp_path) -> None:
    path = tmp_path / "shuffled.csv"
    path.write_text("wavelength_nm,value_dB\n1550.0,-3.0\n1552.0,-9.5\n1551.0,-1.0\n")
    with pytest.raises(ValueError, match="wavelengths must rise or fall steadily"):
        load_trace_file(path)
