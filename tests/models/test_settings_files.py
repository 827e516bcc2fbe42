"""The file-related settings: remembered folders and the sample label survive a restart."""

from __future__ import annotations

import json
from pathlib import Path

from ctp10_gui.models.settings import MAX_LABEL_CHARS, AppSettings, SettingsStore


def test_folders_and_label_round_trip(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "settings.json")
    a = AppSettings(recording_label="wafer 12 / die C4", trace_export_dir="/data/traces",
                    trace_open_dir="/data/in", save_last_dir="/data/saved",
                    record_folder="/data/rec", export_dir="/data/img")
    store.save(a)
    assert SettingsStore(store.path).load() == a


def test_a_bad_label_or_folder_falls_back_alone(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"recording_label": "x" * (MAX_LABEL_CHARS + 1),
                                "trace_open_dir": 12, "save_last_dir": "/keep"}))
    store = SettingsStore(path)
    s = store.load()
    assert (s.recording_label, s.trace_open_dir, s.save_last_dir) == ("", None, "/keep")
    assert store.load_problem is not None
    assert "recording_label" in store.load_problem and "trace_open_dir" in store.load_problem
