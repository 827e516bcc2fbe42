"""The alignment-mode settings: saved, read back, bad values replaced by defaults with a name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ctp10_gui.models.settings import AppSettings, SettingsStore


def test_alignment_fields_round_trip(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "settings.json")
    a = AppSettings(
        focus_mode=True, focus_channels=["CH4", "IL"], peak_average_s=0.2,
        settle_window_s=5.0, settle_threshold_db=0.05, tone_on=True, tone_volume=0.25,
        tone_span_dbm=[-20.0, -3.0], channel_labels={"CH1": "input GC"},
        derived_channels=[{"name": "IL", "expression": "CH4 − CH3"}],
    )
    store.save(a)
    assert SettingsStore(store.path).load() == a


@pytest.mark.parametrize(("name", "value"), [
    ("focus_channels", []),
    ("focus_channels", ["CH1", "CH2", "CH3"]),
    ("peak_average_s", -0.1),
    ("settle_window_s", 0.0),
    ("settle_threshold_db", 50),
    ("tone_volume", 1.5),
    ("tone_span_dbm", [-3.0, -20.0]),
    ("channel_labels", {"CH1": 3}),
    ("derived_channels", [{"name": "IL"}]),
])
def test_bad_alignment_values_fall_back_to_defaults(tmp_path: Path, name: str,
                                                    value: object) -> None:
    store = SettingsStore(tmp_path / "settings.json")
    store.path.write_text(json.dumps({name: value, "theme": "light"}), encoding="utf-8")
    got = store.load()
    assert getattr(got, name) == getattr(AppSettings(), name)
    assert got.theme == "light"
    assert store.load_problem is not None and name in store.load_problem
