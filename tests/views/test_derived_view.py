"""Derived channels in the window: defined in the editor, shown as cards and in focus, kept."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ctp10_gui.models.connection import LinkState
from ctp10_gui.models.derived_readings import parse_definitions
from ctp10_gui.views.derived_view import DerivedDialog
from tests.views.conftest import Rig


def test_a_derived_channel_is_a_card_a_focus_choice_and_is_kept(
        qtbot: Any, make_rig: Callable[..., Rig], tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    rig = make_rig(settings_path=path)
    window = rig.window
    assert not window.derived_row.isVisibleTo(window)  # none defined: no empty row
    window.connect_initial()
    qtbot.waitUntil(lambda: rig.state is LinkState.LIVE, timeout=5000)
    rig.sim.instrument.set_level_dbm(4, 3, -3.0)
    rig.sim.instrument.set_level_dbm(4, 4, -11.5)
    model = window.hub.model  # defined once both levels are read: its peak is then −8.5 dB
    qtbot.waitUntil(lambda: abs(model.reading(3).value_dbm + 3.0) < 0.01
                    and abs(model.reading(4).value_dbm + 11.5) < 0.01, timeout=3000)
    dialog = DerivedDialog(window.derived, window.set_derived, window)
    dialog.editor.setPlainText("IL = CH4 - CH3")
    dialog.apply()
    card = window.derived_row.cards["IL"]
    assert window.derived_row.isVisibleTo(window)
    qtbot.waitUntil(lambda: card.value_label.text() == "−8.50 dB", timeout=3000)
    assert card.title_label.text() == "IL = CH4 − CH3"
    assert card.value_label.fits()
    focus = window.alignment.focus
    assert focus.pickers[0].findData("IL") >= 0
    focus.set_focus(["IL", "CH3"])
    window.alignment.set_on(True)
    tile = focus.tiles["IL"]
    qtbot.waitUntil(lambda: tile.value_label.text() == "−8.50 dB", timeout=3000)
    qtbot.waitUntil(lambda: tile.delta_label.text() == "Δ 0.00 dB", timeout=2000)
    rig.close()
    again = make_rig(settings_path=path).window
    assert list(again.derived_row.cards) == ["IL"]
    assert again.alignment.focus.focus == ["IL", "CH3"]


def test_bad_definitions_are_refused_with_the_line_named(make_rig: Callable[..., Rig]) -> None:
    window = make_rig().window
    dialog = DerivedDialog(window.derived, window.set_derived, window)
    dialog.editor.setPlainText("IL = CH4 - CH3\nsplit = CH1 x CH2")
    dialog.apply()
    assert dialog.error_label.text().startswith("Not applied: line 2: 'CH1 x CH2' is not a "
                                                "derived channel")
    assert window.derived.names() == []


def test_a_derived_channel_is_charted_and_recorded_with_the_channels_names(
        qtbot: Any, make_rig: Callable[..., Rig], tmp_path: Path) -> None:
    rig = make_rig(settings_path=tmp_path / "s.json")
    window = rig.window
    window.connect_initial()
    qtbot.waitUntil(lambda: rig.state is LinkState.LIVE, timeout=5000)
    rig.sim.instrument.set_level_dbm(4, 3, -3.0)
    rig.sim.instrument.set_level_dbm(4, 4, -11.5)
    window.hub.names.rename("CH3", "input GC")
    window.set_derived(parse_definitions("IL = CH4 - CH3"))
    chart = window.chart
    assert "IL" in chart._toggles
    qtbot.waitUntil(lambda: len(chart.visible_curve_data("IL")[1]) > 2
                    and abs(float(chart.visible_curve_data("IL")[1][-1]) + 8.5) < 0.05,
                    timeout=5000)
    assert window.recording.start_recording(tmp_path / "rec")
    qtbot.waitUntil(lambda: window.recording.recorder.status.rows > 5, timeout=5000)
    window.recording.stop_recording()
    part = next((tmp_path / "rec").glob("*_part001.csv"))
    with open(part, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows and all(abs(float(r["IL_dB"]) + 8.5) < 0.05 for r in rows if r["IL_dB"])
    side = json.loads(next((tmp_path / "rec").glob("*.json")).read_text())
    assert side["channel_labels"]["3"] == "input GC"
    assert side["derived"][0]["expression"] == "CH4 − CH3"
