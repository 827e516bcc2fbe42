"""Crash recovery: find sessions a crash left unfinished, close them, clean what a crash left.

A session is unfinished when its sidecar has no end (``end_time``) and no running app holds
its lock. Leftovers are JSON temp files older than STALE_TEMP_S and empty parts whose session
has no sidecar (a crash between claiming the name and describing it). RecordingFolders keeps
the folders recordings went to, so a crash in a ``--record`` folder is found at the next start.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctp10_gui.models.recording.files import (
    TEMP_SUFFIX,
    is_locked,
    is_regular,
    open_regular,
    write_json_atomic,
)
from ctp10_gui.models.recording.format import SIDECAR_FORMAT, iso_now
from ctp10_gui.models.recording.naming import PART_NAME, SIDECAR_NAME

log = logging.getLogger(__name__)

# A temp file lives for the milliseconds of one sidecar write; older ones are a crash's.
STALE_TEMP_S = 60.0
MAX_REMEMBERED_FOLDERS = 10  # folders scanned at start besides the default and --record ones


@dataclass(frozen=True)
class RecoveryReport:
    """Outcome of closing an unfinished recording (rows counted, bytes of torn line removed)."""

    sidecar: Path
    files: tuple[Path, ...]
    rows: int
    truncated_bytes: int
    end_time: str | None
    message: str


def _read_sidecar(path: Path) -> dict[str, Any] | None:
    """Return a recording sidecar's content, or None if path is not one (a link, other JSON)."""
    if not is_regular(path):
        return None
    data = _read_json(path)
    if isinstance(data, dict) and data.get("format") == SIDECAR_FORMAT:
        return data
    return None


def _listed_names(data: dict[str, Any]) -> list[str]:
    files = data.get("files", [])
    if not isinstance(files, list):
        return []
    return [f["name"] for f in files if isinstance(f, dict) and isinstance(f.get("name"), str)]


def _is_live(sidecar: Path, data: dict[str, Any]) -> bool:
    """Return True if a running app (this one or another) still writes the session."""
    names = _listed_names(data)
    return bool(names) and is_locked(sidecar.parent / names[0])


def find_unfinished(folder: str | os.PathLike[str]) -> list[Path]:
    """Return sidecars in folder whose recording a crash left unfinished (sorted by name)."""
    found: list[Path] = []
    folder = Path(folder)
    if not folder.is_dir():
        return found
    for path in sorted(folder.glob("*.json")):
        if not SIDECAR_NAME.match(path.name):
            continue  # another program's JSON: not ours to read or close
        data = _read_sidecar(path)
        if data is None or data.get("complete") or "end_time" in data:
            continue
        if _is_live(path, data):
            continue
        found.append(path)
    return found


def _session_parts(sidecar: Path, session: str, data: dict[str, Any]) -> list[Path]:
    """Return the session's parts: those listed, then unlisted ones numbered after the last.

    A crash between creating a part and listing it leaves one the sidecar never heard of; a
    number skipped because the name was taken belongs to someone else and stays out.
    """
    listed = [n for n in _listed_names(data) if PART_NAME.match(n)]
    parts = [sidecar.parent / n for n in listed]
    last = max((int(m.group(2)) for n in listed if (m := PART_NAME.match(n))), default=0)
    for p in sorted(sidecar.parent.glob(f"{session}_part*.csv")):
        m = PART_NAME.match(p.name)
        if m and m.group(1) == session and int(m.group(2)) > last:
            parts.append(p)
    return [p for p in parts if is_regular(p)]


def _repair_part(path: Path) -> tuple[int, int, str | None]:
    """Truncate a torn last line; return (data rows, bytes removed, last row's iso time)."""
    with os.fdopen(open_regular(path, os.O_RDWR), "r+b") as f:
        size = f.seek(0, os.SEEK_END)
        # Find the last newline from the end, reading backwards in blocks.
        pos, tail_end = size, size
        last_nl = -1
        while pos > 0 and last_nl < 0:
            step = min(65536, pos)
            pos -= step
            f.seek(pos)
            block = f.read(step)
            i = block.rfind(b"\n")
            if i >= 0:
                last_nl = pos + i
        keep = last_nl + 1
        removed = tail_end - keep
        if removed:
            f.truncate(keep)
            f.flush()
            os.fsync(f.fileno())
        f.seek(0)
        lines = 0
        last_line = b""
        while chunk := f.read(1 << 20):
            lines += chunk.count(b"\n")
        if keep:
            f.seek(max(0, keep - 4096))
            tail = f.read(keep - max(0, keep - 4096)).rstrip(b"\n")
            last_line = tail.rsplit(b"\n", 1)[-1]
    rows = max(0, lines - 1)  # minus the header line
    end_iso = last_line.split(b",", 1)[0].decode("utf-8", "replace") if rows else None
    return rows, removed, end_iso


def close_unfinished(sidecar: str | os.PathLike[str]) -> RecoveryReport:
    """Complete an unfinished recording: repair its CSV parts, count rows, finish the sidecar.

    Empty parts (a crash before their header) are removed. Raises OSError or ValueError
    (unreadable sidecar, session still being written) with a clear message.
    """
    sidecar = Path(sidecar)
    data = _read_sidecar(sidecar)
    if data is None:
        raise ValueError(f"{sidecar} is not a readable recording sidecar")
    if _is_live(sidecar, data):
        raise ValueError(f"{sidecar.stem} is still being recorded by a running app")
    session = str(data.get("session") or sidecar.stem)
    known = {f.get("name"): f for f in data.get("files", []) if isinstance(f, dict)}
    paths: list[Path] = []
    files: list[dict[str, Any]] = []
    total_rows = removed_total = 0
    end_iso: str | None = None
    for p in _session_parts(sidecar, session, data):
        if p.stat().st_size == 0:
            p.unlink()
            log.info("removed the empty part %s", p)
            continue
        rows, removed, last = _repair_part(p)
        total_rows += rows
        removed_total += removed
        end_iso = last or end_iso
        entry = dict(known.get(p.name, {"name": p.name}))
        entry["rows"] = rows
        files.append(entry)
        paths.append(p)
    data.update(
        files=files,
        rows=total_rows,
        end_time=end_iso,
        complete=True,
        recovered=True,
        recovered_at=iso_now(time.time()),
        truncated_bytes=removed_total,
    )
    write_json_atomic(sidecar, data)
    torn = f", removed a torn last line ({removed_total} bytes)" if removed_total else ""
    message = (
        f"Closed unfinished recording {session}: {total_rows} rows in {len(paths)} "
        f"file{'s' if len(paths) != 1 else ''}{torn}."
    )
    log.info("%s", message)
    return RecoveryReport(sidecar, tuple(paths), total_rows, removed_total, end_iso, message)


def clean_leftovers(
    folder: str | os.PathLike[str],
    *,
    wall_clock: Callable[[], float] = time.time,
    stale_s: float = STALE_TEMP_S,
) -> list[Path]:
    """Remove stale sidecar temp files and empty sidecar-less parts; return what was removed."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed: list[Path] = []
    now = wall_clock()
    temps = [
        p for p in folder.glob(f"*.json*{TEMP_SUFFIX}") if _is_sidecar_temp(p.name)
    ]
    for p in sorted(temps):
        with contextlib.suppress(OSError):
            if is_regular(p) and now - p.lstat().st_mtime >= stale_s:
                p.unlink()
                removed.append(p)
    for p in sorted(folder.glob("*_part*.csv")):
        m = PART_NAME.match(p.name)
        if m is None or os.path.lexists(folder / f"{m.group(1)}.json"):
            continue
        with contextlib.suppress(OSError):
            st = p.lstat()
            if (
                is_regular(p)
                and st.st_size == 0
                and now - st.st_mtime >= stale_s
                and not is_locked(p)
            ):
                p.unlink()
                removed.append(p)
    if removed:
        log.info("removed %d leftovers of crashed recordings in %s", len(removed), folder)
    return removed


def _is_sidecar_temp(name: str) -> bool:
    """Return True for a sidecar's temp name: '.<sidecar>.<random>.tmp' or '<sidecar>.tmp'."""
    # ".<sidecar>.<random>.tmp" drops its last two dotted parts; "<sidecar>.tmp" its suffix.
    hidden = name.startswith(".")
    sidecar = name[1:].rsplit(".", 2)[0] if hidden else name.removesuffix(TEMP_SUFFIX)
    return SIDECAR_NAME.match(sidecar) is not None


RECORDING_FOLDERS_FILE = "recording_folders.json"  # in the data folder: scanned at start


class RecordingFolders:
    """The folders live recordings were started in (newest first), so recovery scans them all.

    Kept as ``{"folders": [absolute paths]}`` at path, at most MAX_REMEMBERED_FOLDERS.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def folders(self) -> list[Path]:
        """Return the remembered folders, newest first ([] when the file is missing or bad)."""
        data = _read_json(self.path)
        listed = data.get("folders") if isinstance(data, dict) else None
        if not isinstance(listed, list):
            return []
        return [Path(f) for f in listed if isinstance(f, str)][:MAX_REMEMBERED_FOLDERS]

    def remember(self, folder: str | os.PathLike[str]) -> None:
        """Put folder first in the list (written atomically); OSError raised."""
        entry = str(Path(folder).absolute())
        kept = [str(f) for f in self.folders() if str(f) != entry]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path, {"folders": [entry, *kept][:MAX_REMEMBERED_FOLDERS]})


def _read_json(path: Path) -> object:
    if not path.exists():
        return None
    try:
        with os.fdopen(open_regular(path, os.O_RDONLY), "rb") as f:
            return json.loads(f.read().decode("utf-8"))
    except (OSError, ValueError, RecursionError) as e:
        log.warning("cannot read %s: %s", path, e)
        return None
