"""Recordings one can find: the folder asked once, the label, names, Open folder, state in files."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QInputDialog

from ctp10_gui import procedures
from ctp10_gui.link.controller import LinkController
from ctp10_gui.models.connection import AcquisitionSettings, LinkState
from ctp10_gui.models.recording.flight_recorder import FlightRecorder
from ctp10_gui.models.recording.live_recorder import LiveRecorder
from ctp10_gui.models.samples import SnapshotBatch
from ctp10_gui.models.settings import AppSettings
from ctp10_gui.procedures.controls import SWEEP_GROUP, tls_group
from ctp10_gui.simulator import SimulatorServer
from ctp10_gui.views.recording_controls import (
    RecordingControls,
    default_record_folder,
    elide_path,
)


def batch(t_start: float, n: int = 20) -> SnapshotBatch:
    t = t_start + np.arange(n) * 0.001
    values = np.full((n, 4), -10.0)
    return SnapshotBatch(4, (1, 2, 3, 4), t, t, values, np.zeros((n, 4), np.int8))


class Dialogs:
    """Stand-ins for the static QFileDialog/QInputDialog calls, counting what was asked."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, folder: str, label: str) -> None:
        self.folder, self.label = folder, label
        self.folder_asks: list[str] = []  # the start folder of each folder dialog
        self.label_defaults: list[str] = []
        monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(self._folder))
        monkeypatch.setattr(QInputDialog, "getText", staticmethod(self._text))

    def _folder(self, parent, caption: str, start: str, *args) -> str:
        self.folder_asks.append(start)
        return self.folder

    def _text(self, parent, title: str, prompt: str, *args, text: str = "", **kw):
        self.label_defaults.append(text)
        return ("", False) if self.label is None else (self.label, True)


@pytest.fixture
def controller(qtbot) -> Iterator[LinkController]:
    c = LinkController()
    yield c
    c.shutdown()


@pytest.fixture
def saves() -> list[int]:
    return []


@pytest.fixture
def controls(qtbot, controller: LinkController, saves: list[int]):
    w = RecordingControls(controller, FlightRecorder(minutes=10), AppSettings(),
                          recorder=LiveRecorder(), persist=lambda: saves.append(1))
    qtbot.addWidget(w)
    w.show()
    yield w
    w.shutdown()


def test_the_first_record_asks_for_the_folder_once_and_names_files_with_the_label(
        qtbot, controls: RecordingControls, controller: LinkController, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, saves: list[int]) -> None:
    dialogs = Dialogs(monkeypatch, str(tmp_path / "lab"), "wafer 12 / ring:7")
    assert "asked at the first Record" in controls.status_text
    controls.record_action.trigger()
    assert controls.recorder.active
    assert controls.settings.record_folder == str(tmp_path / "lab")
    assert controls.settings.recording_label == "wafer 12 / ring:7"
    assert saves  # remembered at once, not only when the window closes
    controller.batch_received.emit(batch(1_764_000_000.0))
    status = controls.stop_recording()
    (part,) = status.files
    assert part.parent == tmp_path / "lab"
    assert part.name.endswith("_no-instrument_M4_CH1-4_wafer-12-ring-7_part001.csv")
    side = json.loads(status.sidecar.read_text())  # type: ignore[union-attr]
    assert side["label"] == "wafer 12 / ring:7"  # the sidecar keeps the label as typed
    assert controls.status_text.startswith("Recorded ")

    dialogs.label = "ring 8"
    controls.record_action.trigger()  # the second time: no folder dialog, the label offered
    controls.stop_recording()
    assert len(dialogs.folder_asks) == 1
    assert dialogs.label_defaults == ["", "wafer 12 / ring:7"]
    assert len(list((tmp_path / "lab").glob("*_ring-8.json"))) == 1


@pytest.mark.parametrize("cancel", ["folder", "label"])
def test_cancelling_a_record_dialog_records_nothing(
        qtbot, controls: RecordingControls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        cancel: str) -> None:
    Dialogs(monkeypatch, "" if cancel == "folder" else str(tmp_path / "lab"),
            None if cancel == "label" else "x")  # type: ignore[arg-type]
    controls.record_action.trigger()
    assert not controls.recorder.active
    assert not controls.record_action.isChecked()
    assert not (tmp_path / "lab").exists() or not any((tmp_path / "lab").iterdir())


def test_the_default_folder_is_a_visible_one_in_documents(controls: RecordingControls) -> None:
    folder = default_record_folder(controls.settings)
    assert folder.name == "ctp10-recordings"
    assert not any(part.startswith(".") for part in folder.parts)


def test_a_folder_chosen_from_the_menu_is_shown_in_the_status_bar(
        controls: RecordingControls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        saves: list[int]) -> None:
    Dialogs(monkeypatch, str(tmp_path / "bench"), "")
    controls.folder_action.trigger()
    assert controls.settings.record_folder == str(tmp_path / "bench") and saves
    shown = elide_path(tmp_path / "bench")  # long paths are shortened in the middle
    assert controls.status_text == f"Not recording · recordings go to {shown}"
    assert controls.status_label.toolTip() == f"Recording folder: {tmp_path / 'bench'}"


def test_open_recording_folder_creates_it_and_hands_it_to_the_desktop(
        controls: RecordingControls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl",
                        staticmethod(lambda url: opened.append(url) or True))
    controls.settings.record_folder = str(tmp_path / "new" / "rec")
    controls.open_folder_action.trigger()
    assert (tmp_path / "new" / "rec").is_dir()
    assert [u.toLocalFile() for u in opened] == [str(tmp_path / "new" / "rec")]


def test_save_last_offers_the_folder_used_last_time(
        qtbot, controls: RecordingControls, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    dialogs = Dialogs(monkeypatch, str(tmp_path / "saves"), "")
    monkeypatch.setattr(QInputDialog, "getDouble", staticmethod(lambda *a, **k: (1.0, True)))
    with qtbot.waitSignal(controls.message, timeout=5000):
        controls.save_last_action.trigger()
    with qtbot.waitSignal(controls.message, timeout=5000):
        controls.save_last_action.trigger()
    assert controls.settings.save_last_dir == str(tmp_path / "saves")
    assert dialogs.folder_asks[1] == str(tmp_path / "saves")
    assert len(list((tmp_path / "saves").glob("*.json"))) == 2


def read_rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))[1:]


@pytest.fixture
def live(qtbot, sim: SimulatorServer) -> Iterator[LinkController]:
    controller = LinkController(AcquisitionSettings(interval_s=0.02))
    controller.connect_to(sim.address)
    qtbot.waitUntil(lambda: controller.status.state is LinkState.LIVE, timeout=10_000)
    yield controller
    controller.shutdown()


def call(qtbot, controller: LinkController, fn) -> object:
    """Run fn(ctp10) through the link and return its result."""
    result: list[object] = []
    controller.request(fn, result.append, result.append)
    qtbot.waitUntil(lambda: bool(result), timeout=5000)
    assert not isinstance(result[0], Exception), result[0]
    return result[0]


def test_recordings_carry_the_instrument_state_and_rows_for_setting_changes(
        qtbot, live: LinkController, tmp_path: Path) -> None:
    controls = RecordingControls(live, FlightRecorder(minutes=10), AppSettings())
    qtbot.addWidget(controls)
    try:
        qtbot.waitUntil(lambda: bool(controls.instrument_state), timeout=10_000)  # on connect
        assert controls.start_recording(tmp_path, label="chip A")
        qtbot.waitUntil(lambda: controls.recorder.status.rows >= 10, timeout=10_000)
        # A set through a settings form: its read-back becomes a row at once.
        speed = call(qtbot, live, partial(procedures.write_control, group=tls_group(1),
                                          name="speed_nm_s", value=50))
        controls.note_setting(tls_group(1), "speed_nm_s", speed)
        # A change nobody announced (another client, the front panel): found by the next read.
        call(qtbot, live, partial(procedures.write_control, group=SWEEP_GROUP,
                                  name="stop_nm", value=1565.0))
        with qtbot.waitSignal(controls.instrument_state_changed, timeout=5000):
            controls.schedule_state_read()
        with qtbot.waitSignal(controls.message, timeout=5000):
            controls.save_last(5.0, tmp_path / "saved")
        saved = json.loads(next((tmp_path / "saved").glob("*.json")).read_text())
        status = controls.stop_recording()
    finally:
        controls.shutdown()
    (part,) = status.files
    assert "_CTP10-SIM-0001_M4_CH1-4_chip-A_" in part.name
    events = [r[-1] for r in read_rows(part) if r[-1]]
    assert "setting: TLS 1 Sweep speed set to 50 nm/s" in events
    assert any(e.startswith("setting: Sweep Scan stop: ") and e.endswith("→ 1565 nm")
               for e in events), events
    assert not any("Sweep speed: " in e for e in events)  # the announced set is told once
    side = json.loads(status.sidecar.read_text())  # type: ignore[union-attr]
    state = side["instrument_state"]
    assert state["sweep"]["stop_nm"] == 1565.0
    assert state["tunable_lasers"]["1"]["speed_nm_s"] == 50
    assert set(state["detectors"]) == {"1", "2", "3", "4"}
    assert all("wavelength_nm" in d and "power_unit" in d for d in state["detectors"].values())
    assert saved["instrument_state"]["sweep"]["stop_nm"] == 1565.0  # flight-recorder saves too
