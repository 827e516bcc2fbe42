"""The recording controls as the user sees them: Record/Stop, the status label, saves, recovery."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QInputDialog, QMessageBox

from ctp10_gui.link.controller import LinkController
from ctp10_gui.models.connection import AcquisitionSettings, BackoffPolicy, LinkState
from ctp10_gui.models.recording.flight_recorder import FlightRecorder
from ctp10_gui.models.recording.live_recorder import LiveRecorder
from ctp10_gui.models.recording.session_writer import SessionWriter
from ctp10_gui.models.samples import SnapshotBatch
from ctp10_gui.models.settings import AppSettings
from ctp10_gui.simulator import SimulatorServer
from ctp10_gui.views.recording_controls import RecordingControls, format_elapsed, format_size

T0 = 1_764_000_000.0


class FakeClock:
    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def batch(t_start: float, n: int = 20, channels: tuple[int, ...] = (1, 2, 3, 4)) -> SnapshotBatch:
    t = t_start + np.arange(n) * 0.001
    values = np.tile(-10.0 - np.arange(len(channels), dtype=float), (n, 1))
    status = np.zeros((n, len(channels)), np.int8)
    return SnapshotBatch(4, channels, t, t, values, status)


def read_csv(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))[1:]


@pytest.fixture
def controller(qtbot) -> Iterator[LinkController]:
    c = LinkController()
    yield c
    c.shutdown()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1000.0)


@pytest.fixture(autouse=True)
def no_label(monkeypatch) -> None:
    """Record asks for a sample label: these tests answer with none (OK, empty)."""
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: ("", True)))


@pytest.fixture
def controls(qtbot, controller: LinkController, tmp_path: Path, clock: FakeClock):
    settings = AppSettings(record_folder=str(tmp_path / "rec"))
    w = RecordingControls(
        controller,
        FlightRecorder(minutes=10),
        settings,
        recorder=LiveRecorder(clock=clock),
    )
    qtbot.addWidget(w)
    w.show()
    yield w
    w.shutdown()


def test_record_stop_toggles_and_label_shows_elapsed_size_and_path(
    qtbot, controls: RecordingControls, controller: LinkController, clock: FakeClock
) -> None:
    assert controls.status_text.startswith("Not recording · recordings go to ")
    with qtbot.waitSignal(controls.recording_changed) as started:
        controls.record_action.trigger()
    assert started.args == [True]
    assert controls.record_action.isChecked() and controls.record_action.text() == "Stop"
    for i in range(5):
        controller.batch_received.emit(batch(T0 + i * 0.02))
    clock.t += 65.0
    qtbot.waitUntil(lambda: "0:01:05" in controls.status_text and "kB" in controls.status_text)
    text = controls.status_text
    path = controls.recorder.status.path
    assert path is not None
    assert text.startswith("● REC 0:01:05 · ") and text.endswith(path.name)
    assert controls.status_label.toolTip() == str(path)  # the long path is elided in the label
    assert controls.status_label.text() == text
    assert format_size(path.stat().st_size) in text

    with qtbot.waitSignal(controls.recording_changed) as stopped:
        controls.record_action.trigger()
    assert stopped.args == [False]
    assert not controls.record_action.isChecked() and controls.record_action.text() == "Record"
    assert controls.status_text.startswith("Recorded 0:01:05 · ")
    assert len(read_csv(path)) == 100
    controller.batch_received.emit(batch(T0 + 1))  # after Stop: not written
    assert len(read_csv(path)) == 100


def test_start_failure_shows_the_message_and_unchecks_record(
    qtbot, controls: RecordingControls, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    controls.settings.record_folder = str(blocker / "rec")
    with qtbot.waitSignal(controls.message, timeout=5000) as msg:
        controls.record_action.trigger()
    assert msg.args[0].startswith("Recording could not start: cannot create folder")
    assert not controls.record_action.isChecked()
    assert controls.status_text == msg.args[0]
    assert "color" in controls.status_label.styleSheet()


def test_link_events_become_rows_and_flight_recorder_keeps_them(
    qtbot, controls: RecordingControls, controller: LinkController
) -> None:
    assert controls.start_recording()
    controller.batch_received.emit(batch(T0))
    controller.link_event.emit("disconnect", "connection reset by 127.0.0.1:5025")
    controller.link_event.emit("reconnect_attempt", "attempt 1 of 10")
    controller.link_event.emit("reconnect", "EXFO,CTP10,SIM,1.0")
    controller.batch_received.emit(batch(T0 + 5))
    status = controls.stop_recording()
    rows = read_csv(status.files[0])
    assert [r[-1] for r in rows if r[-1]] == [
        "disconnect: connection reset by 127.0.0.1:5025",
        "reconnect_attempt: attempt 1 of 10",
        "reconnect: EXFO,CTP10,SIM,1.0",
    ]
    assert len(rows) == 43
    assert [e[1] for e in controls.flight_recorder.extract().events] == [
        "disconnect",
        "reconnect_attempt",
        "reconnect",
    ]


def test_save_last_minutes_writes_files_and_reports(
    qtbot, controls: RecordingControls, controller: LinkController, tmp_path: Path
) -> None:
    import time

    now = time.time()
    for i in range(10):
        controller.batch_received.emit(batch(now - 5 + i * 0.1))
    with qtbot.waitSignal(controls.message, timeout=5000) as msg:
        controls.save_last(1.0, tmp_path / "saved")
    assert msg.args[0].startswith("Saved 200 rows (")
    assert controls.status_text == msg.args[0]
    sidecars = list((tmp_path / "saved").glob("*.json"))
    assert len(sidecars) == 1
    side = json.loads(sidecars[0].read_text())
    assert side["complete"] and side["source"] == "flight_recorder" and side["rows"] == 200


def test_offer_recovery_is_non_modal_and_closes_the_recording(
    qtbot, controls: RecordingControls, tmp_path: Path
) -> None:
    folder = tmp_path / "crashed"
    w = SessionWriter(folder, controls.metadata(), start_wall=T0, source="live")
    w.open()
    w.write_batch(batch(T0, 30))
    w.flush()
    with open(w.current_path, "ab") as f:  # type: ignore[arg-type]
        f.write(b"2025-11-24T16:00:01.000+00:00,17640")  # the torn line of a crash
    w.abandon()  # the process dies: its files (and the session's lock) are closed
    assert controls.offer_recovery(tmp_path / "nothing-here") is None
    box = controls.offer_recovery(folder)
    assert box is not None and box.isVisible() and not box.isModal()
    assert "1 recording was not closed properly" in box.text()
    with qtbot.waitSignal(controls.message, timeout=5000) as msg:
        box.button(QMessageBox.StandardButton.Yes).click()
    assert msg.args[0].startswith(f"Closed unfinished recording {w.session}: 30 rows in 1 file")
    side = json.loads(w.sidecar.read_text())
    assert side["complete"] and side["recovered"] and side["rows"] == 30


@pytest.mark.slow  # two 1 s stale periods of the real link: ~3 s
def test_outage_rows_are_written_when_the_simulator_drops(
    qtbot, sim: SimulatorServer, tmp_path: Path
) -> None:
    fast = BackoffPolicy(initial_s=0.1, factor=2.0, cap_s=0.4, jitter=0.2, max_attempts=50)
    controller = LinkController(AcquisitionSettings(interval_s=0.01, backoff=fast))
    controls = RecordingControls(controller, FlightRecorder(), AppSettings())
    qtbot.addWidget(controls)
    try:
        controller.connect_to(sim.address)
        qtbot.waitUntil(lambda: controller.status.state is LinkState.LIVE, timeout=10_000)
        assert controls.start_recording(tmp_path)
        qtbot.waitUntil(lambda: controls.recorder.status.rows >= 20, timeout=10_000)
        sim.faults.drop_connections()  # the cable is pulled (FIN) and put back at once
        qtbot.waitUntil(lambda: controls.recorder.status.events >= 2, timeout=10_000)
        rows_at_reconnect = controls.recorder.status.rows
        qtbot.waitUntil(
            lambda: controls.recorder.status.rows >= rows_at_reconnect + 20, timeout=10_000
        )
        sim.faults.set_serial("CTP10-OTHER-0002", restart=True)  # another instrument answers
        qtbot.waitUntil(
            lambda: any(
                e[1] == "different_instrument" for e in controls.flight_recorder.extract().events
            ),
            timeout=10_000,
        )
        status = controls.stop_recording()
    finally:
        controls.shutdown()
        controller.shutdown()
    assert status.error is None and len(status.files) == 1  # one file across the reconnect
    rows = read_csv(status.files[0])
    kinds = [r[-1].split(":")[0] for r in rows if r[-1]]
    # In this order (stale/recovered rows may come in between): the log explains its gaps.
    expected = iter(kinds)
    for kind in ("disconnect", "reconnect_attempt", "reconnect", "different_instrument"):
        assert kind in expected, f"{kind} missing or out of order in {kinds}"
    first_reconnect = next(i for i, r in enumerate(rows) if r[-1].startswith("reconnect:"))
    first_event = next(i for i, r in enumerate(rows) if r[-1])
    assert first_event >= 20  # data before the outage
    assert any(not r[-1] for r in rows[first_reconnect:])  # and data again after it
    for r in rows:
        if r[-1]:
            assert r[2:-1] == [""] * 8  # an event row carries no values
    side = json.loads(status.sidecar.read_text())  # type: ignore[union-attr]
    assert side["instrument"]["serial"] == "CTP10-SIM-0001"  # where the data came from
    assert [i["serial"] for i in side["other_instruments"]] == ["CTP10-OTHER-0002"]
    assert side["wavelengths_nm"].keys() == {"1", "2", "3", "4"}


def test_formatting_helpers() -> None:
    assert format_size(812) == "812 B"
    assert format_size(12_345) == "12.3 kB"
    assert format_size(45_600_000) == "45.6 MB"
    assert format_size(1_230_000_000) == "1.23 GB"
    assert format_elapsed(3725.9) == "1:02:05"
