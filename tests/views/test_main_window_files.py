"""The window's file wiring on the simulator: form sets as event rows, annotated chart images."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QFileDialog, QInputDialog

from ctp10_gui.models.connection import LinkState
from ctp10_gui.models.derived_readings import parse_definitions
from ctp10_gui.models.settings import AppSettings

Rig = Any  # conftest.Rig: window, controller, sim, store, settings


def _live(qtbot: Any, make_rig: Callable[..., Rig], tmp_path: Path) -> Rig:
    rig = make_rig(settings=AppSettings(window_s=10.0, record_folder=str(tmp_path / "rec")))
    rig.window.connect_initial()
    qtbot.waitUntil(lambda: rig.controller.status.state is LinkState.LIVE, timeout=5000)
    qtbot.waitUntil(lambda: bool(rig.window.recording.instrument_state), timeout=5000)
    return rig


def test_a_set_in_the_instrument_panel_is_an_event_row_of_the_recording(
        qtbot: Any, make_rig: Callable[..., Rig], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: ("die 3", True)))
    rig = _live(qtbot, make_rig, tmp_path)
    recording = rig.window.recording
    try:
        recording.record_action.trigger()
        assert recording.recorder.active
        form = rig.window.instrument.sweep_form
        with qtbot.waitSignal(form.value_set, timeout=5000):
            form.submit("stop_nm", "1566")
        with qtbot.waitSignal(recording.instrument_state_changed, timeout=5000):
            pass  # the state read after the set reaches the sidecar and the trace store
        status = recording.stop_recording()
    finally:
        rig.close()
    (part,) = status.files
    assert part.name.split("_", 2)[2].startswith("CTP10-SIM-0001_M4_CH1-4_die-3_part001")
    with open(part, newline="", encoding="utf-8") as f:
        events = [r[-1] for r in list(csv.reader(f))[1:] if r[-1]]
    assert "setting: Sweep Scan stop set to 1566 nm" in events
    side = json.loads(status.sidecar.read_text())
    assert side["instrument_state"]["sweep"]["stop_nm"] == 1566.0
    assert rig.window.traces.instrument_state["sweep"]["stop_nm"] == 1566.0


def test_the_chart_image_names_the_instrument_and_the_export_folder_is_kept(
        qtbot: Any, make_rig: Callable[..., Rig], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    rig = _live(qtbot, make_rig, tmp_path)
    rig.window.hub.rename({1: "input GC"})
    rig.window.set_derived(parse_definitions("IL = CH2 - CH1"))
    target = tmp_path / "images" / "chart.svg"
    target.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(target), "SVG drawing (*.svg)")))
    try:
        action = next(a for a in rig.window.menuBar().actions()[0].menu().actions()
                      if a.text() == "Export chart image…")
        action.trigger()
        png = tmp_path / "images" / "chart.png"
        monkeypatch.setattr(QFileDialog, "getSaveFileName",
                            staticmethod(lambda *a, **k: (str(png), "PNG image (*.png)")))
        action.trigger()
    finally:
        rig.close()
    text = target.read_text()
    assert "CTP10-SIM-0001" in text and "module 4" in text and "dBm" in text
    assert "CH1 " in text and " nm" in text  # the legend names channel and wavelength
    assert "input GC" in text and "IL = CH2 − CH1 (dB)" in text  # user names, derived curves
    assert QImage(str(png)).width() == 1600
    assert rig.settings.export_dir == str(tmp_path / "images")
