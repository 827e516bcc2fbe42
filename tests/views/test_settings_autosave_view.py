"""The window's settings are written within a second of a change, once per burst, never per
sample, and a file that cannot be written is said once."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ctp10_gui.models.connection import LinkState
from ctp10_gui.views.settings_autosave import SettingsAutosave


def test_a_burst_of_changes_is_one_write_and_live_data_writes_nothing(
        qtbot: Any, make_rig: Callable[..., Any]) -> None:
    rig = make_rig()
    rig.window.connect_initial()
    qtbot.waitUntil(lambda: rig.state is LinkState.LIVE, timeout=5000)
    batches: list[object] = []
    rig.controller.batch_received.connect(batches.append)
    # The docks widen once to the link-health numbers: a layout change, saved like any other.
    with qtbot.waitSignal(rig.controller.health_changed, timeout=2000):
        pass
    qtbot.waitUntil(lambda: len(batches) >= 10, timeout=5000)
    autosave = SettingsAutosave(rig.window, delay_ms=300, check_ms=100)
    qtbot.waitUntil(lambda: autosave.saves == 1, timeout=2000)  # the first: no file yet
    seen = len(batches)
    qtbot.waitUntil(lambda: len(batches) >= seen + 30, timeout=5000)  # a dozen checks meanwhile
    assert autosave.saves == 1

    controls = rig.window.live_controls
    for ch in (4, 3, 2):
        controls.channel_boxes[ch].setChecked(False)
    controls.select_module(1)
    qtbot.waitUntil(lambda: autosave.saves == 2, timeout=2000)
    saved = json.loads(rig.store.path.read_text())
    assert saved["channels"] == [1] and saved["module"] == 1
    assert not autosave.save_now()  # the one write of the burst took all of it


def test_a_settings_file_that_cannot_be_written_is_said_once(
        qtbot: Any, make_rig: Callable[..., Any], tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.mkdir()  # a folder where the file should be: every write fails (also for root)
    rig = make_rig(settings_path=path)
    window = rig.window
    autosave = SettingsAutosave(window, delay_ms=50, check_ms=50)
    qtbot.waitUntil(lambda: "Settings could not be saved" in window.notice_label.text(),
                    timeout=2000)
    shown = window.notice_label.text()
    window.notice_label.setText("")
    window.live_controls.select_module(1)
    assert not autosave.save_now()
    assert window.notice_label.text() == "" and autosave.saves == 0  # said once, not again
    path.rmdir()
    assert autosave.save_now() and json.loads(path.read_text())["module"] == 1
    assert "tried again at the next change" in shown
