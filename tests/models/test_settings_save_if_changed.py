"""save_if_changed writes the settings file only when what it would hold differs from it."""

from __future__ import annotations

import json
from pathlib import Path

from ctp10_gui.models.settings import AppSettings, SettingsStore


def test_the_file_is_written_only_when_the_settings_differ_from_it(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "settings.json"
    store = SettingsStore(path)
    settings = store.load()  # no file yet: the first save writes one
    assert store.save_if_changed(settings) and path.exists()
    stamp = path.stat().st_mtime_ns
    assert not store.save_if_changed(settings)
    settings.remember_address("192.168.1.37")
    assert store.save_if_changed(settings)
    assert json.loads(path.read_text())["address"] == "192.168.1.37"
    assert path.stat().st_mtime_ns >= stamp
    assert [p.name for p in path.parent.iterdir()] == ["settings.json"]  # no temp file left

    again = SettingsStore(path)
    loaded = again.load()
    assert not again.save_if_changed(loaded)  # as read: nothing to write
    loaded.module = 6
    assert again.save_if_changed(loaded) and json.loads(path.read_text())["module"] == 6
    store.save(settings)  # a full save counts as what the file holds
    assert not store.save_if_changed(settings)


def test_a_file_with_bad_fields_is_rewritten_at_the_first_chance(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"version": 1, "module": 99, "address": "10.0.0.2"}))
    store = SettingsStore(path)
    settings = store.load()
    assert settings.address == "10.0.0.2" and settings.module == AppSettings().module
    assert store.save_if_changed(settings)
    assert json.loads(path.read_text())["module"] == AppSettings().module
