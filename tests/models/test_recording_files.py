"""Hostile folders: planted links, simultaneous starts, a file-size limit, crash leftovers.

Every test writes real files and reads every one of them back.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from ctp10_gui.models.recording.files import is_locked, lock_session
from ctp10_gui.models.recording.format import STATUS_NAMES, RecordingMetadata
from ctp10_gui.models.recording.live_recorder import LiveRecorder
from ctp10_gui.models.recording.naming import session_stem
from ctp10_gui.models.recording.recovery import (
    STALE_TEMP_S,
    RecordingFolders,
    clean_leftovers,
    close_unfinished,
    find_unfinished,
)
from ctp10_gui.models.recording.session_writer import SessionWriter
from ctp10_gui.models.samples import SnapshotBatch

T0 = 1_764_000_000.0
STAMP = time.strftime("%Y%m%d-%H%M%S", time.localtime(T0))  # the older "session_" names
NAME = session_stem(T0, "SIM-1", 4, (1, 2, 3, 4))  # what meta() sessions are called
CHANNELS = (1, 2, 3, 4)
posix_only = pytest.mark.skipif(os.name != "posix", reason="links, rlimits and flock are POSIX")


def meta() -> RecordingMetadata:
    return RecordingMetadata(module=4, channels=CHANNELS, identity={"serial": "SIM-1"})


def ramp_batch(k0: int, n: int, offset: float = 0.0) -> SnapshotBatch:
    """Samples k0..k0+n-1 at 1 kHz from T0; channel c reads offset - k/100 - c dBm."""
    k = k0 + np.arange(n)
    t = T0 + k * 0.001
    values = offset - k[:, None] / 100.0 - np.arange(1, 5)[None, :]
    return SnapshotBatch(4, CHANNELS, t - T0, t, values, np.zeros((n, 4), np.int8))


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    raw = path.read_bytes()
    assert raw.endswith(b"\n"), f"{path.name} ends in a partial line"
    rows = list(csv.reader(raw.decode("utf-8").splitlines()))
    return rows[0], rows[1:]


def assert_ramp(rows: list[list[str]], k0: int = 0, offset: float = 0.0) -> None:
    """Rows are samples k0, k0+1, … of ramp_batch, every value and status intact."""
    for j, row in enumerate(rows):
        k = k0 + j
        assert float(row[1]) == pytest.approx(T0 + k * 0.001, abs=1e-6)
        expected = [offset - k / 100.0 - c for c in range(1, 5)]
        assert [float(v) for v in row[2:10:2]] == pytest.approx(expected, abs=5e-5)
        assert row[3:10:2] == [STATUS_NAMES[0]] * 4 and row[-1] == ""


def planted(outside: Path, name: str, content: str | None) -> Path:
    """Return a file outside the recording folder (created when content is given)."""
    outside.mkdir(exist_ok=True)
    target = outside / name
    if content is not None:
        target.write_text(content)
    return target


# ---------------------------------------------------------------- links at predictable names


@posix_only
def test_links_at_the_next_session_names_are_skipped_and_outside_files_untouched(
    tmp_path: Path,
) -> None:
    folder, outside = tmp_path / "rec", tmp_path / "outside"
    folder.mkdir()
    csv_target = planted(outside, "precious.csv", "precious csv\n")
    json_target = planted(outside, "precious.json", '{"precious": true}\n')
    missing = planted(outside, "created-by-nobody.csv", None)
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (csv_target, json_target)}
    links = {
        folder / f"{NAME}_part001.csv": csv_target,  # name 1: its first part
        folder / f"{NAME}-2.json": json_target,  # name 2: its sidecar
        folder / f"{NAME}-3_part001.csv": missing,  # name 3: a dangling link
        folder / f"{NAME}-4_part002.csv": csv_target,  # name 4: its rotation part
        folder / f"{NAME}-4.json.tmp": json_target,  # the obvious temp name
    }
    for link, target in links.items():
        link.symlink_to(target)

    rec = LiveRecorder(wall_clock=lambda: T0, max_part_bytes=2000)
    assert rec.start(folder, meta())
    batches = [ramp_batch(20 * i, 20) for i in range(3)]
    for b in batches:
        rec.write_batch(b)
        assert rec.wait_idle()
    status = rec.stop()

    assert status.error is None
    assert status.sidecar == folder / f"{NAME}-4.json"
    names = [p.name for p in status.files]
    assert names[:2] == [f"{NAME}-4_part001.csv", f"{NAME}-4_part003.csv"]
    rows: list[list[str]] = []
    for p in status.files:
        assert not p.is_symlink()
        header, part_rows = read_csv(p)
        assert header[2] == "ch1_dBm"
        rows += part_rows
    assert len(rows) == status.rows == 60
    assert_ramp(rows)
    side = json.loads(status.sidecar.read_text())
    assert side["complete"] is True and [f["name"] for f in side["files"]] == names
    for p, (content, mtime) in before.items():
        assert p.read_bytes() == content and p.stat().st_mtime_ns == mtime
    assert not missing.exists()
    assert all(link.is_symlink() and link.readlink() == t for link, t in links.items())
    # Recovery never counts, truncates or removes through a planted link.
    assert find_unfinished(folder) == []
    assert clean_leftovers(folder, wall_clock=lambda: time.time() + 2 * STALE_TEMP_S) == []
    assert all(link.is_symlink() for link in links)


@posix_only
def test_a_link_planted_at_a_crashed_sessions_next_part_is_left_alone(tmp_path: Path) -> None:
    folder, outside = tmp_path / "rec", tmp_path / "outside"
    target = planted(outside, "log.csv", "header\ntorn line without newline")
    content = target.read_bytes()
    w = SessionWriter(folder, meta(), start_wall=T0, source="live")
    w.open()
    w.write_batch(ramp_batch(0, 30))
    w.flush()
    w.abandon()  # the process dies
    (folder / f"{NAME}_part002.csv").symlink_to(target)
    (sidecar,) = find_unfinished(folder)
    report = close_unfinished(sidecar)
    assert report.files == (folder / f"{NAME}_part001.csv",)
    assert report.rows == 30 and report.truncated_bytes == 0
    assert target.read_bytes() == content
    _, rows = read_csv(report.files[0])
    assert_ramp(rows)


# ---------------------------------------------------------------- simultaneous starts


def test_writers_starting_in_the_same_instant_get_their_own_sessions(tmp_path: Path) -> None:
    n = 6
    barrier = threading.Barrier(n)
    writers = [SessionWriter(tmp_path, meta(), start_wall=T0, source="live") for _ in range(n)]
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(5)
            writers[i].open()
            writers[i].write_batch(ramp_batch(0, 10 + i, offset=10.0 * i))
            writers[i].close()
        except BaseException as e:  # collected: the assertion below names it
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == []
    assert len({w.session for w in writers}) == n
    assert len(list(tmp_path.glob(f"{NAME}*.json"))) == n
    for i, w in enumerate(writers):
        side = json.loads(w.sidecar.read_text())
        assert side["session"] == w.session and side["rows"] == 10 + i
        (part,) = w.paths
        _, rows = read_csv(part)
        assert len(rows) == 10 + i
        assert_ramp(rows, offset=10.0 * i)


RACER = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from ctp10_gui.models.recording.format import RecordingMetadata
    from ctp10_gui.models.recording.live_recorder import LiveRecorder
    from ctp10_gui.models.samples import SnapshotBatch

    folder, t0, offset = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    rec = LiveRecorder(wall_clock=lambda: t0)
    print("ready", flush=True)
    sys.stdin.readline()  # both processes start on the same go
    rec.start(folder, RecordingMetadata(module=4, channels=(1, 2, 3, 4)))
    k = np.arange(50)
    t = t0 + k * 0.001
    values = offset - k[:, None] / 100.0 - np.arange(1, 5)[None, :]
    rec.write_batch(SnapshotBatch(4, (1, 2, 3, 4), t - t0, t, values, np.zeros((50, 4), np.int8)))
    status = rec.stop()
    print(json.dumps({"error": status.error, "rows": status.rows, "sidecar": str(status.sidecar),
                      "files": [str(p) for p in status.files]}), flush=True)
    """
)


def test_two_processes_starting_in_the_same_instant_both_record(tmp_path: Path) -> None:
    folder = tmp_path / "rec"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(folder), repr(T0), str(offset)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for offset in (0.0, 50.0)
    ]
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        results = []
        for p in procs:
            out, err = p.communicate(timeout=30)
            assert p.returncode == 0, err
            results.append(json.loads(out))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
    assert [r["error"] for r in results] == [None, None]
    assert results[0]["sidecar"] != results[1]["sidecar"]
    for r, offset in zip(results, (0.0, 50.0), strict=True):
        side = json.loads(Path(r["sidecar"]).read_text())
        assert side["complete"] is True and side["rows"] == r["rows"] == 50
        (part,) = r["files"]
        _, rows = read_csv(Path(part))
        assert_ramp(rows, offset=offset)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [Path(r["sidecar"]).name for r in results] + [Path(r["files"][0]).name for r in results]
    )


# ---------------------------------------------------------------- a failed write


EFBIG_DRIVER = textwrap.dedent(
    """
    import json, resource, signal, sys
    import numpy as np
    from ctp10_gui.models.recording.format import RecordingMetadata
    from ctp10_gui.models.recording.live_recorder import LiveRecorder
    from ctp10_gui.models.samples import SnapshotBatch

    folder, t0, limit = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # over the limit, write() fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    rec = LiveRecorder(wall_clock=lambda: t0)
    rec.start(folder, RecordingMetadata(module=4, channels=(1, 2, 3, 4)))
    for i in range(10):
        k = 20 * i + np.arange(20)
        t = t0 + k * 0.001
        values = -k[:, None] / 100.0 - np.arange(1, 5)[None, :]
        status = np.zeros((20, 4), np.int8)
        rec.write_batch(SnapshotBatch(4, (1, 2, 3, 4), t - t0, t, values, status))
        rec.wait_idle()  # one write per batch: the limit falls inside one of them
    status = rec.stop()
    print(json.dumps({"error": status.error, "rows": status.rows, "bytes": status.bytes_written,
                      "sidecar": str(status.sidecar), "files": [str(p) for p in status.files],
                      "active": status.active}), flush=True)
    """
)


@posix_only
def test_a_write_over_the_file_size_limit_keeps_only_full_rows_and_says_so(
    tmp_path: Path,
) -> None:
    folder, limit = tmp_path / "rec", 5000
    proc = subprocess.run(
        [sys.executable, "-c", EFBIG_DRIVER, str(folder), repr(T0), str(limit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert not result["active"]
    error = result["error"]
    assert error.startswith("Recording stopped: cannot write ") and "File too large" in error
    assert f"marked incomplete and keeps its {result['rows']} full rows." in error
    (part,) = (Path(f) for f in result["files"])
    raw = part.read_bytes()
    header, rows = read_csv(part)  # ends in a newline: the partial row was cut off
    assert header[-1] == "event"
    assert len(rows) == result["rows"]
    assert_ramp(rows)
    assert len(raw) == result["bytes"]
    row_bytes = len(raw.split(b"\n")[1]) + 1
    assert 0 < limit - len(raw) < row_bytes  # every full row that fitted is kept and counted
    assert len(rows) % 20 != 0  # the limit fell inside a batch, whose full rows count
    side = json.loads(Path(result["sidecar"]).read_text())
    assert side["complete"] is False and side["error"] == error
    assert side["rows"] == side["snapshot_rows"] == len(rows) and side["end_time"]
    assert side["files"][0]["rows"] == len(rows)
    assert find_unfinished(folder) == []  # closed by the writer: nothing for recovery to do


# ---------------------------------------------------------------- leftovers and liveness


def test_leftovers_of_a_crash_are_cleaned_and_live_files_kept(tmp_path: Path) -> None:
    folder = tmp_path
    old = time.time() - 2 * STALE_TEMP_S

    def aged(path: Path, content: bytes = b"") -> Path:
        path.write_bytes(content)
        os.utime(path, (old, old))
        return path

    stale_temps = [
        aged(folder / f".session_{STAMP}.json.k2j3h4.tmp", b'{"format": '),
        aged(folder / f"session_{STAMP}-9.json.tmp", b"{}"),
        aged(folder / f".{NAME}_sample-7.json.q1w2e3.tmp", b'{"format": '),
    ]
    # Someone else's files in the same folder look alike but are not a session's.
    foreign = [aged(folder / ".config.json.a1b2c3.tmp", b"{"), aged(folder / "notes_part001.csv")]
    fresh_temp = folder / f".session_{STAMP}-2.json.x8y9z0.tmp"
    fresh_temp.write_bytes(b"{")  # another app is writing it right now
    orphan = aged(folder / f"session_{STAMP}-3_part001.csv")  # claimed, then the crash
    new_orphan = aged(folder / f"{NAME}-2_part001.csv")
    locked = aged(folder / f"session_{STAMP}-4_part001.csv")  # claimed by a live app
    lock_fd = lock_session(locked)
    not_empty = aged(folder / f"session_{STAMP}-5_part001.csv", b"iso_time,unix_time,event\n")
    try:
        assert is_locked(locked)
        removed = clean_leftovers(folder)
        assert sorted(removed) == sorted([*stale_temps, orphan, new_orphan])
        assert all(p.exists() for p in foreign)
        assert all(not p.exists() for p in removed)
        assert fresh_temp.read_bytes() == b"{" and locked.exists()
        assert not_empty.read_bytes() == b"iso_time,unix_time,event\n"
    finally:
        if lock_fd is not None:
            os.close(lock_fd)
    assert not is_locked(locked)


def test_a_crashed_sessions_empty_part_is_removed_and_a_live_one_never_touched(
    tmp_path: Path,
) -> None:
    crashed = SessionWriter(tmp_path, meta(), start_wall=T0, source="live", max_part_bytes=200)
    crashed.open()
    crashed.write_batch(ramp_batch(0, 5))  # part 1: header and 5 rows
    crashed.flush()
    crashed.write_batch(ramp_batch(5, 5))  # rotates: part 2 is listed, its header still pending
    crashed.abandon()  # the process dies before part 2's header reaches the file
    part1, part2 = crashed.paths
    assert part2.stat().st_size == 0
    live = SessionWriter(tmp_path, meta(), start_wall=T0, source="live")
    live.open()
    live.write_batch(ramp_batch(0, 7))
    live.flush()

    assert find_unfinished(tmp_path) == [crashed.sidecar]  # the live session is not offered
    with pytest.raises(ValueError, match="still being recorded"):
        close_unfinished(live.sidecar)
    report = close_unfinished(crashed.sidecar)
    assert report.files == (part1,) and report.rows == 5 and not part2.exists()
    side = json.loads(crashed.sidecar.read_text())
    assert side["recovered"] is True and [f["name"] for f in side["files"]] == [part1.name]
    _, rows = read_csv(part1)
    assert_ramp(rows)

    live.close()
    _, rows = read_csv(live.paths[0])
    assert_ramp(rows)
    assert json.loads(live.sidecar.read_text())["rows"] == 7
    assert find_unfinished(tmp_path) == []


def test_the_recorder_remembers_its_folders_for_recovery(tmp_path: Path) -> None:
    journal = RecordingFolders(tmp_path / "data" / "recording_folders.json")
    assert journal.folders() == []
    rec = LiveRecorder(wall_clock=lambda: T0, folders=journal)
    for name in ("a", "b", "a"):
        assert rec.start(tmp_path / name, meta())
        rec.write_batch(ramp_batch(0, 3))
        assert rec.stop().error is None
    assert journal.folders() == [tmp_path / "a", tmp_path / "b"]
    assert json.loads(journal.path.read_text()) == {
        "folders": [str(tmp_path / "a"), str(tmp_path / "b")]
    }
    journal.path.write_text("[" * 100_000)  # damaged: forgotten with a warning, not a crash
    assert journal.folders() == []
    journal.remember(tmp_path / "c")
    assert journal.folders() == [tmp_path / "c"]
