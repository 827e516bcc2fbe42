"""Live recording, flight recorder and crash recovery: every file is read back and compared."""

from __future__ import annotations

import csv
import json
import threading
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from ctp10_gui.models.recording.flight_recorder import FlightRecorder
from ctp10_gui.models.recording.format import STATUS_NAMES, RecordingMetadata
from ctp10_gui.models.recording.live_recorder import LiveRecorder
from ctp10_gui.models.recording.naming import session_stem
from ctp10_gui.models.recording.recovery import close_unfinished, find_unfinished
from ctp10_gui.models.recording.session_writer import SessionWriter
from ctp10_gui.models.samples import SnapshotBatch

T0 = 1_764_000_000.0  # 2025-11-24, a fixed wall time so file names are predictable
# The flight recorder keeps float32 dBm (≤ 8e-6 dB off at −80 dBm) plus the 4-decimal print.
FLOAT32_TOL_DB = 6e-5
# Sessions are named by date, time, serial, module and channels (models.recording.naming).
NAME = session_stem(T0, "SIM-1", 4, (1, 2, 3, 4))


def local_iso_prefix(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(t))


def make_batch(
    t_start: float,
    n: int,
    channels: tuple[int, ...] = (1, 2, 3, 4),
    *,
    rate_hz: float = 1000.0,
    module: int = 4,
    seed: int = 0,
) -> SnapshotBatch:
    """Return n snapshots from t_start at rate_hz, with every status and NaN where not OK."""
    rng = np.random.default_rng(seed)
    c = len(channels)
    t = t_start + np.arange(n) / rate_hz
    values = rng.uniform(-79.0, 9.0, (n, c))
    status = np.zeros((n, c), np.int8)
    status[::7, 0] = 1  # under
    status[::11, -1] = 2  # over
    status[3::13, min(1, c - 1)] = 3  # error
    values[status != 0] = np.nan
    return SnapshotBatch(module, channels, t - t_start, t, values, status)


class FakeClock:
    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def meta(unit: str = "dBm", channels: tuple[int, ...] = (1, 2, 3, 4)) -> RecordingMetadata:
    return RecordingMetadata(
        module=4,
        channels=channels,
        unit=unit,  # type: ignore[arg-type]
        identity={"manufacturer": "EXFO", "model": "CTP10", "serial": "SIM-1", "firmware": "1.0"},
        wavelengths_nm={1: 1550.0, 2: 1551.0},
        references={"SIM-1/4/1/1550.000": -3.5},
    )


def read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def data_rows(rows: list[list[str]]) -> list[list[str]]:
    return [r for r in rows if r[-1] == ""]


def event_rows(rows: list[list[str]]) -> list[list[str]]:
    return [r for r in rows if r[-1] != ""]


def assert_rows_match(
    rows: list[list[str]], batches: list[SnapshotBatch], unit: str = "dBm", tol_db: float = 5e-5
) -> None:
    """Compare CSV snapshot rows with the batches sent: times to ms, values, statuses."""
    t = np.concatenate([b.t_wall for b in batches])
    v = np.concatenate([b.values_dbm for b in batches])
    s = np.concatenate([b.status for b in batches])
    assert len(rows) == len(t)
    for row, ti, vi, si in zip(rows, t.tolist(), v.tolist(), s.tolist(), strict=True):
        iso = datetime.fromisoformat(row[0])
        assert iso.tzinfo is not None
        assert abs(iso.timestamp() - round(ti * 1000) / 1000) < 1e-6, (row[0], ti)
        assert abs(float(row[1]) - ti) < 1e-6
        assert row[3::2][: len(si)] == [STATUS_NAMES[x] for x in si]
        for c, expected in enumerate(vi):
            value = row[2 + 2 * c]
            if np.isnan(expected):
                assert value == ""
            elif unit == "dBm":
                assert abs(float(value) - expected) <= tol_db, (value, expected)
            else:
                mw = 10 ** (expected / 10)
                assert abs(float(value) - mw) <= 1e-5 * mw, (value, mw)


def recorder(**kw) -> LiveRecorder:
    kw.setdefault("wall_clock", lambda: T0)
    return LiveRecorder(**kw)


def test_csv_and_sidecar_round_trip(tmp_path: Path) -> None:
    rec = recorder()
    assert rec.start(tmp_path, meta())
    batches = [make_batch(T0 + 0.02 * i, 20, seed=i) for i in range(10)]
    for b in batches:
        rec.write_batch(b)
    status = rec.stop()
    assert status.error is None and not status.active
    assert status.rows == 200
    part = tmp_path / f"{NAME}_part001.csv"
    assert status.files == (part,)
    header, rows = read_rows(part)
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
    assert_rows_match(rows, batches)
    assert status.bytes_written == part.stat().st_size
    side = json.loads((tmp_path / f"{NAME}.json").read_text())
    assert side["complete"] is True
    assert side["rows"] == 200 and side["snapshot_rows"] == 200 and side["event_rows"] == 0
    assert side["instrument"]["serial"] == "SIM-1"
    assert side["module"] == 4 and side["channels"] == [1, 2, 3, 4]
    assert side["unit"] == "dBm" and side["wavelengths_nm"] == {"1": 1550.0, "2": 1551.0}
    assert side["references"] == {"SIM-1/4/1/1550.000": -3.5}
    assert side["app_version"] and side["start_time"].startswith(local_iso_prefix(T0))
    assert side["end_time"] and side["files"] == [
        {"name": part.name, "rows": 200, "module": 4, "channels": [1, 2, 3, 4],
         "derived": []}
    ]


def test_mw_unit_is_named_in_header_and_converted(tmp_path: Path) -> None:
    rec = recorder()
    rec.start(tmp_path, meta(unit="mW", channels=(2, 5)))
    b = make_batch(T0, 50, (2, 5))
    rec.write_batch(b)
    status = rec.stop()
    header, rows = read_rows(status.files[0])
    assert header[2:6] == ["ch2_mW", "ch2_status", "ch5_mW", "ch5_status"]
    assert_rows_match(rows, [b], unit="mW")


def test_link_events_are_rows_of_their_own_and_recording_continues(tmp_path: Path) -> None:
    rec = recorder()
    rec.start(tmp_path, meta())
    before, after = make_batch(T0, 30), make_batch(T0 + 10.0, 30, seed=1)
    rec.write_batch(before)
    sent = [
        ("disconnect", 'no reply from 10.0.0.5:5025 within 1.0 s to ":CTP:SENS4:CHAN1:POW?"'),
        ("reconnect_attempt", "attempt 1 of 10, next in 1.0 s"),
        ("reconnect_attempt", "attempt 2 of 10\nrefused"),
        ("reconnect", "EXFO,CTP10,SIM-1,1.0"),
        ("different_instrument", "serial SIM-2 answers at 10.0.0.5, expected SIM-1"),
    ]
    for i, (kind, text) in enumerate(sent):
        rec.write_event(kind, text, t_wall=T0 + 1.0 + i)
    rec.write_batch(after)
    status = rec.stop()
    assert status.files == (tmp_path / f"{NAME}_part001.csv",)
    assert status.events == 5
    _, rows = read_rows(status.files[0])
    assert len(rows) == 65
    assert_rows_match(data_rows(rows), [before, after])
    events = event_rows(rows)
    assert rows[30:35] == events  # in order, between the data before and after the outage
    for row, (i, (kind, text)) in zip(events, enumerate(sent), strict=True):
        assert row[-1] == f"{kind}: {text.replace(chr(10), ' ')}"
        assert row[2:-1] == [""] * 8
        assert float(row[1]) == pytest.approx(T0 + 1.0 + i)
    # Every row is one physical line: a plain line count equals header + rows.
    assert status.files[0].read_text().count("\n") == 66


def test_rows_reach_the_os_without_stop_and_fsync_follows_the_clock(tmp_path: Path) -> None:
    clock = FakeClock(100.0)
    synced: list[int] = []
    rec = recorder(clock=clock, fsync=synced.append, fsync_interval_s=5.0)
    rec.start(tmp_path, meta())
    b = make_batch(T0, 40)
    rec.write_batch(b)
    assert rec.wait_idle()
    path = rec.status.path
    assert path is not None
    _, rows = read_rows(path)  # another reader sees every row while still recording
    assert_rows_match(rows, [b])
    assert synced == []  # not yet 5 s on the recorder's clock
    clock.t += 5.0
    rec.write_batch(make_batch(T0 + 1, 10))
    assert rec.wait_idle()
    assert len(synced) == 1
    assert rec.status.elapsed_s == pytest.approx(5.0)
    assert rec.status.active and rec.status.rows == 50
    rec.stop()
    assert len(synced) == 2  # the final fsync at stop


def test_fsync_keeps_its_cadence_when_the_queue_never_runs_empty(tmp_path: Path) -> None:
    class SteppingClock:
        """Advance 6 s on every read: each batch takes longer than the 5 s fsync interval."""

        def __init__(self) -> None:
            self.t = 0.0

        def __call__(self) -> float:
            self.t += 6.0
            return self.t

    first_sync, release = threading.Event(), threading.Event()
    synced: list[int] = []

    def stalled_fsync(fd: int) -> None:
        synced.append(fd)
        first_sync.set()
        release.wait(10)

    rec = recorder(clock=SteppingClock(), fsync=stalled_fsync, fsync_interval_s=5.0)
    rec.start(tmp_path, meta())
    rec.write_batch(make_batch(T0, 2))
    assert first_sync.wait(5)  # the writer hangs in its first fsync
    for i in range(5):  # a backlog: the writer's queue stays non-empty through all five
        rec.write_batch(make_batch(T0 + 1 + i, 2, seed=i))
    release.set()
    status = rec.stop()
    assert status.error is None and status.rows == 12
    assert len(synced) >= 1 + 5  # one fsync per backlog batch, each 6 s after the last


def test_rotation_by_size_keeps_session_name_and_headers(tmp_path: Path) -> None:
    rec = recorder(max_part_bytes=4000)
    rec.start(tmp_path, meta())
    batches = [make_batch(T0 + i, 20, seed=i) for i in range(12)]
    for i, b in enumerate(batches):
        rec.write_batch(b)
        if i == 5:
            rec.write_event("disconnect", "cable pulled", t_wall=T0 + 5.5)
    status = rec.stop()
    names = [p.name for p in status.files]
    assert len(names) >= 3
    assert names == [f"{NAME}_part{i:03d}.csv" for i in range(1, len(names) + 1)]
    all_rows: list[list[str]] = []
    for p in status.files:
        header, rows = read_rows(p)
        assert header[0] == "iso_time" and header[-1] == "event"
        all_rows += rows
    assert_rows_match(data_rows(all_rows), batches)
    assert [r[-1] for r in event_rows(all_rows)] == ["disconnect: cable pulled"]
    side = json.loads(status.sidecar.read_text())  # type: ignore[union-attr]
    assert [f["name"] for f in side["files"]] == names
    assert sum(f["rows"] for f in side["files"]) == side["rows"] == 241


def test_rotation_by_time_and_on_channel_change(tmp_path: Path) -> None:
    clock = FakeClock()
    rec = recorder(clock=clock, max_part_s=3600.0)
    rec.start(tmp_path, meta())
    a, b, c = make_batch(T0, 5), make_batch(T0 + 1, 5, seed=1), make_batch(T0 + 2, 5, (1, 3))
    rec.write_batch(a)
    assert rec.wait_idle()
    clock.t = 3600.0
    rec.write_batch(b)  # an hour later: new part
    rec.write_batch(c)  # other channels: new part with its own header
    status = rec.stop()
    assert len(status.files) == 3
    parts = [read_rows(p) for p in status.files]
    assert_rows_match(parts[0][1], [a])
    assert_rows_match(parts[1][1], [b])
    assert parts[2][0][2:6] == ["ch1_dBm", "ch1_status", "ch3_dBm", "ch3_status"]
    assert_rows_match(parts[2][1], [c])
    side = json.loads(status.sidecar.read_text())  # type: ignore[union-attr]
    assert side["files"][2]["channels"] == [1, 3]


def test_unwritable_folder_stops_with_a_message_and_never_raises(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder's parent should be")
    rec = recorder()
    assert rec.start(blocker / "recordings", meta())
    rec.write_batch(make_batch(T0, 5))  # must not raise, whenever the writer notices
    status = rec.stop()
    assert not status.active
    assert status.error is not None
    assert status.error.startswith("Recording could not start: cannot create folder")
    assert str(blocker / "recordings") in status.error
    rec.write_batch(make_batch(T0, 5))
    rec.write_event("disconnect", "x")


def test_slow_disk_drops_batches_and_says_so(tmp_path: Path) -> None:
    clock = FakeClock()
    release = threading.Event()
    rec = recorder(clock=clock, fsync=lambda fd: release.wait(10), max_pending=5)
    rec.start(tmp_path, meta())
    rec.write_batch(make_batch(T0 - 1, 2))
    assert rec.wait_idle()  # the writer is running and took its fsync time at clock 0
    clock.t = 10.0  # the next flush is followed by an fsync that blocks: a stalled disk
    for i in range(9):
        rec.write_batch(make_batch(T0 + i, 2))
    release.set()
    status = rec.stop()
    assert status.dropped_batches == 4  # 5 pending accepted while the disk hangs, of 9
    _, rows = read_rows(status.files[0])
    overflow = event_rows(rows)
    assert len(overflow) == 1
    assert (
        overflow[0][-1]
        == f"recorder_overflow: {status.dropped_batches} batches dropped: disk too slow"
    )


def test_start_twice_is_refused_and_writes_outside_a_recording_are_ignored(tmp_path: Path) -> None:
    rec = recorder()
    rec.write_batch(make_batch(T0, 3))
    assert rec.start(tmp_path / "a", meta())
    assert not rec.start(tmp_path / "b", meta())
    rec.stop()
    rec.write_batch(make_batch(T0, 3))
    assert rec.status.rows == 0
    assert not (tmp_path / "b").exists()


# ---------------------------------------------------------------- flight recorder


def test_flight_recorder_memory_is_bounded_after_wrap() -> None:
    fr = FlightRecorder(minutes=60, max_bytes=30 * 1000, initial_rows=64)
    assert fr.bytes_per_row(4) == 30
    for i in range(200):  # 200 × 50 rows at 1 kHz = 10 000 rows, 10× the memory cap
        fr.append(make_batch(T0 + i * 0.05, 50, seed=i))
        assert fr.nbytes <= 30 * 1000
    assert fr.capacity == fr.max_rows == 1000
    assert len(fr) == 1000
    ex = fr.extract()
    assert np.all(np.diff(ex.t_wall) > 0)
    assert ex.t_wall[-1] == pytest.approx(T0 + 199 * 0.05 + 0.049)
    assert ex.t_wall[0] == pytest.approx(ex.t_wall[-1] - 0.999)
    nbytes = fr.nbytes
    for i in range(200, 260):
        fr.append(make_batch(T0 + i * 0.05, 50, seed=i))
    assert fr.nbytes == nbytes and len(fr) == 1000


def test_flight_recorder_grows_only_to_hold_its_window() -> None:
    fr = FlightRecorder(minutes=1, initial_rows=64)
    for i in range(600):  # 10 minutes at 100 Hz in 1 s batches
        fr.append(make_batch(T0 + i, 100, rate_hz=100.0, seed=i))
    # One minute is 6000 rows: sized from the observed rate (+10 %), not by blind doubling.
    assert 6000 <= fr.capacity <= 1.15 * 6000
    assert fr.nbytes == fr.capacity * fr.bytes_per_row(4)


def test_save_last_round_trip_with_events_in_place(tmp_path: Path) -> None:
    now = FakeClock(T0 + 300.0)
    fr = FlightRecorder(minutes=60, wall_clock=now)
    batches = [make_batch(T0 + i, 100, rate_hz=100.0, seed=i) for i in range(300)]
    for i, b in enumerate(batches):
        fr.append(b)
        if i == 250:
            fr.add_event("disconnect", "connection reset by 10.0.0.5:5025", t_wall=T0 + 250.5)
        if i == 10:
            fr.add_event("reconnect", "too old to be saved", t_wall=T0 + 10.5)
    result = fr.save_last(1.0, tmp_path, meta())  # last minute: batches 240..299
    stamp = time.strftime("%Y-%m-%d_%H%M%S", time.localtime(T0 + 240))
    assert result.files[0].name == f"{stamp}_SIM-1_M4_CH1-4_part001.csv"
    _, rows = read_rows(result.files[0])
    assert_rows_match(data_rows(rows), batches[240:], tol_db=FLOAT32_TOL_DB)
    events = event_rows(rows)
    assert [r[-1] for r in events] == ["disconnect: connection reset by 10.0.0.5:5025"]
    assert rows.index(events[0]) == 1051  # in time order: rows of 240..249 and 250 up to .5 s
    side = json.loads(result.sidecar.read_text())
    assert side["complete"] is True and side["source"] == "flight_recorder"
    assert side["rows"] == result.rows == 6001 and side["event_rows"] == 1
    assert side["instrument"]["serial"] == "SIM-1"


def test_save_last_splits_parts_when_channels_changed(tmp_path: Path) -> None:
    fr = FlightRecorder(wall_clock=lambda: T0 + 10)
    a, b = make_batch(T0, 10, (1, 2, 3, 4)), make_batch(T0 + 1, 10, (1, 2, 3, 4, 5, 6), seed=2)
    fr.append(a)
    fr.append(b)
    result = fr.save_last(5, tmp_path, meta())
    assert len(result.files) == 2
    (h1, r1), (h2, r2) = (read_rows(p) for p in result.files)
    assert len(h1) == 11 and len(h2) == 15
    assert_rows_match(r1, [a], tol_db=FLOAT32_TOL_DB)
    assert_rows_match(r2, [b], tol_db=FLOAT32_TOL_DB)


# ---------------------------------------------------------------- crash recovery


def test_recovery_of_a_torn_file(tmp_path: Path) -> None:
    w = SessionWriter(tmp_path, meta(), start_wall=T0, source="live")
    w.open()
    batches = [make_batch(T0 + i, 25, seed=i) for i in range(4)]
    for b in batches:
        w.write_batch(b)
    w.write_event(T0 + 9, "disconnect", "cable")
    w.flush()
    part = w.current_path
    assert part is not None
    with open(part, "ab") as f:
        torn = b"2025-11-24T16:00:10.000+00:00,1764000010.000000,-3.1"
        f.write(torn)  # the crash
    assert find_unfinished(tmp_path) == []  # still locked: a live session is never recovered
    w.abandon()  # the process dies: its files (and the session's lock) are closed
    done = SessionWriter(tmp_path, meta(), start_wall=T0 + 3600, source="live")
    done.open()
    done.close()
    assert find_unfinished(tmp_path) == [w.sidecar]

    report = close_unfinished(w.sidecar)
    assert report.rows == 101
    assert report.truncated_bytes == len(torn)
    assert report.files == (part,)
    assert "101 rows" in report.message and "torn" in report.message
    assert report.end_time is not None and report.end_time.startswith(local_iso_prefix(T0 + 9))
    _, rows = read_rows(part)
    assert_rows_match(data_rows(rows), batches)
    assert len(rows) == 101
    side = json.loads(w.sidecar.read_text())
    assert side["complete"] is True and side["recovered"] is True and side["rows"] == 101
    assert find_unfinished(tmp_path) == []


def test_flight_recorder_off_holds_nothing() -> None:
    fr = FlightRecorder(minutes=5)
    fr.append(make_batch(T0, 100))
    fr.set_minutes(0)
    assert fr.nbytes == 0 and len(fr) == 0
    fr.append(make_batch(T0 + 1, 100))
    fr.add_event("disconnect", "x")
    ex = fr.extract()
    assert len(ex.t_wall) == 0 and ex.events == ()


def test_a_malformed_batch_stops_the_recording_with_a_sentence_and_keeps_the_rows(
    tmp_path: Path,
) -> None:
    rec = recorder()
    rec.start(tmp_path, meta())
    good = make_batch(T0, 10)
    rec.write_batch(good)
    # Not a SnapshotBatch (which refuses this at construction): 3 times, 2 rows of values.
    bad = SimpleNamespace(module=4, channels=(1, 2, 3, 4), t_wall=np.full(3, T0 + 1),
                          values_dbm=np.zeros((2, 4)), status=np.zeros((2, 4), np.int8))
    rec.write_batch(bad)
    status = rec.stop()
    assert not status.active and status.rows == 10
    assert status.error is not None
    assert status.error.startswith("Recording stopped by an internal error (ValueError: ")
    assert status.error.endswith("the session is marked incomplete and keeps its 10 full rows.")
    _, rows = read_rows(status.files[0])
    assert_rows_match(rows, [good])
    side = json.loads(status.sidecar.read_text())  # type: ignore[union-attr]
    assert side["complete"] is False and side["rows"] == 10 and side["error"] == status.error
    rec.write_batch(good)  # ignored now, no exception
