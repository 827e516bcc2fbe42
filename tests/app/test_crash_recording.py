"""kill -9 in the middle of a recording: the CSV parses and holds every row up to ~1 s before."""

from __future__ import annotations

import csv
import itertools
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QMessageBox

from ctp10_gui.app import RECORDING_FOLDERS_FILE, build, start
from ctp10_gui.models.recording.format import STATUS_NAMES
from ctp10_gui.models.recording.recovery import RecordingFolders, close_unfinished, find_unfinished
from ctp10_gui.models.settings import AppSettings, SettingsStore, data_dir

MAX_LOSS_S = 1.0  # the promise: a crash loses at most the last second

# A recording process fed by a synthetic 1 kHz × 4-channel generator. Sample k has
# t = t0 + k ms and channel c reads -(k % 5000) / 100 - c dBm, so every row can be checked.
DRIVER = r"""
import sys, time
import numpy as np
from ctp10_gui.models.recording.format import RecordingMetadata
from ctp10_gui.models.recording.live_recorder import LiveRecorder
from ctp10_gui.models.samples import SnapshotBatch

rec = LiveRecorder()
rec.start(sys.argv[1], RecordingMetadata(module=4, channels=(1, 2, 3, 4)))
t0 = time.time()
k = 0
channels = np.arange(1, 5)
while True:
    idx = k + np.arange(20)
    t = t0 + idx * 0.001
    values = -(idx[:, None] % 5000) / 100.0 - channels[None, :]
    rec.write_batch(SnapshotBatch(4, (1, 2, 3, 4), t, t, values, np.zeros((20, 4), np.int8)))
    k += 20
    print(f"{t[-1]:.6f}", flush=True)  # the newest sample handed to the recorder
    time.sleep(max(0.0, t0 + k * 0.001 - time.time()))  # the generator's pace, not the test's
"""


# The real app (built-in simulator, offscreen) recording with --record, exactly as a user
# starts it. It prints the newest sample time of every batch handed to the recorder.
APP_DRIVER = r"""
import sys
from ctp10_gui import app as appmod

ctx = appmod.build(sys.argv[1:])
appmod.start(ctx)
controls = ctx.window.recording
assert controls.recorder.active, "--record did not start a recording"
print("recording started by the app", file=sys.stderr, flush=True)


def newest(batch):
    if controls.recorder.active and len(batch.t_wall):
        print(f"{batch.t_wall[-1]:.6f}", flush=True)


ctx.controller.batch_received.connect(newest)
sys.exit(ctx.app.exec())
"""


def read_complete_rows(path: Path) -> tuple[list[str], list[list[str]], int]:
    """Return (header, rows, bytes of a torn last line) of a CSV a crash left behind."""
    raw = path.read_bytes()
    complete = raw[: raw.rfind(b"\n") + 1]
    rows = list(csv.reader(complete.decode().splitlines()))
    return rows[0], rows[1:], len(raw) - len(complete)


@pytest.mark.slow
def test_kill_9_of_the_real_app_mid_recording_keeps_rows_up_to_a_second_before(
    qtbot: Any, user_dirs: Path, tmp_path: Path
) -> None:
    driver = tmp_path / "app_driver.py"
    driver.write_text(APP_DRIVER)
    folder = tmp_path / "rec"
    settings = tmp_path / "s.json"
    SettingsStore(settings).save(AppSettings(poll_interval_s=0.01, window_s=10.0))
    proc = subprocess.Popen(
        [
            sys.executable,
            str(driver),
            "--simulate",
            "--record",
            str(folder),
            "--settings",
            str(settings),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        first_t = last_t = None
        while last_t is None or first_t is None or last_t - first_t < 1.5:
            line = proc.stdout.readline()
            assert line, f"app ended early with {proc.wait()}: {proc.stderr.read()[-2000:]}"
            last_t = float(line)
            first_t = first_t or last_t
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
        stderr = proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert "recording started by the app" in stderr

    (part,) = sorted(folder.glob("*_part001.csv"))
    header, rows, torn = read_complete_rows(part)
    assert header == [
        "iso_time",
        "unix_time",
        "ch1_dBm",
        "ch1_status",
        "ch2_dBm",
        "ch2_status",
        "ch3_dBm",
        "ch3_status",
        "ch4_dBm",
        "ch4_status",
        "event",
    ]
    data = [r for r in rows if not r[-1]]
    assert len(data) >= 50  # 1.5 s at 100 Hz, well over what the test waited for
    t = [float(r[1]) for r in data]
    assert all(b >= a for a, b in itertools.pairwise(t))
    assert max(b - a for a, b in itertools.pairwise(t)) < 0.5  # no hole in the log
    for r in data:
        assert all(s in STATUS_NAMES for s in r[3:10:2])
        assert all(v == "" or -100.0 < float(v) < 20.0 for v in r[2:10:2])
    lost_s = last_t - t[-1]
    print(f"app rows on disk: {len(data)}; newest {lost_s * 1000:.0f} ms older than sent")
    assert lost_s <= MAX_LOSS_S, f"lost {lost_s:.3f} s of rows"

    # The next start, without --record, still finds the crash in that folder and closes it.
    assert RecordingFolders(data_dir() / RECORDING_FOLDERS_FILE).folders() == [folder]
    (sidecar,) = find_unfinished(folder)
    ctx = build(["--settings", str(settings)])
    try:
        start(ctx)
        (box,) = [b for b in ctx.window.findChildren(QMessageBox) if b.isVisible()]
        assert str(folder.resolve()) in box.text() and sidecar.stem in box.text()
        with qtbot.waitSignal(ctx.window.recording.message, timeout=10_000) as msg:
            box.button(QMessageBox.StandardButton.Yes).click()
    finally:
        ctx.shutdown()
    torn_note = f", removed a torn last line ({torn} bytes)" if torn else ""
    assert msg.args[0] == (
        f"Closed unfinished recording {sidecar.stem}: {len(rows)} rows in 1 file{torn_note}."
    )
    side = json.loads(sidecar.read_text())
    assert side["complete"] and side["recovered"] and side["rows"] == len(rows)
    assert side["truncated_bytes"] == torn
    assert side["instrument"]["serial"] == "CTP10-SIM-0001"  # learnt after the start


@pytest.mark.slow
def test_kill_9_mid_recording_keeps_all_rows_up_to_a_second_before(tmp_path: Path) -> None:
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    folder = tmp_path / "rec"
    proc = subprocess.Popen(
        [sys.executable, str(driver), str(folder)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        lines = 0
        last_t = 0.0
        while lines < 75:  # 1.5 s of data at 1 kHz in 20 ms batches
            line = proc.stdout.readline()
            assert line, f"driver ended early with {proc.wait()}"
            last_t = float(line)
            lines += 1
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)

    parts = sorted(folder.glob("*_part001.csv"))
    assert len(parts) == 1
    raw = parts[0].read_bytes()
    complete = raw[: raw.rfind(b"\n") + 1]  # a torn last line, if any, is not a row
    rows = list(csv.reader(complete.decode().splitlines()))
    header, rows = rows[0], rows[1:]
    assert header[:4] == ["iso_time", "unix_time", "ch1_dBm", "ch1_status"]
    assert rows, "nothing reached the disk"
    t = [float(r[1]) for r in rows]
    t0 = t[0]
    for k, row in enumerate(rows):  # every row, in order, no gap, values intact
        assert abs(float(row[1]) - (t0 + k * 0.001)) < 1e-5
        assert row[3::2][:4] == ["ok"] * 4
        expected = [-(k % 5000) / 100.0 - c for c in range(1, 5)]
        assert [float(v) for v in row[2:10:2]] == pytest.approx(expected, abs=5e-5)
    lost_s = last_t - t[-1]
    print(f"rows on disk: {len(rows)}; newest {lost_s * 1000:.0f} ms older than the newest sent")
    assert lost_s <= MAX_LOSS_S, f"lost {lost_s:.3f} s of rows"

    # The next start finds the recording unfinished and closes it with the same row count.
    (sidecar,) = find_unfinished(folder)
    report = close_unfinished(sidecar)
    assert report.rows == len(rows)
    assert report.truncated_bytes == len(raw) - len(complete)
