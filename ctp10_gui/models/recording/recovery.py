"""Crash recovery: find sessions a crash left unfinished and close them."""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctp10_gui.models.recording.files import write_json_atomic
from ctp10_gui.models.recording.format import SIDECAR_FORMAT, iso_now

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecoveryReport:
    """Outcome of closing an unfinished recording (rows counted, bytes of torn line removed)."""

    sidecar: Path
    files: tuple[Path, ...]
    rows: int
    truncated_bytes: int
    end_time: str | None
    message: str



def find_unfinished(folder: str | os.PathLike[str]) -> list[Path]:
    """Return sidecars in folder whose recording never completed (sorted by name)."""
    found: list[Path] = []
    folder = Path(folder)
    if not folder.is_dir():
        return found
    for path in sorted(folder.glob("session_*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            log.warning("cannot read recording sidecar %s: %s", path, e)
            continue
        if (
            isinstance(data, dict)
            and data.get("format") == SIDECAR_FORMAT
            and not data.get("complete")
        ):
            found.append(path)
    return found


def _repair_part(path: Path) -> tuple[int, int, str | None]:
    """Truncate a torn last line; return (data rows, bytes removed, last row's iso time)."""
    with open(path, "r+b") as f:
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

    Raises OSError or ValueError (unreadable sidecar) with a clear message.
    """
    sidecar = Path(sidecar)
    data = json.loads(sidecar.read_text(encoding="utf-8"))
    session = data.get("session") or sidecar.stem
    # Glob rather than trust the list: a part may exist that the sidecar never heard of.
    paths = sorted(sidecar.parent.glob(f"{session}_part*.csv"))
    files: list[dict[str, Any]] = []
    known = {f.get("name"): f for f in data.get("files", []) if isinstance(f, dict)}
    total_rows = removed_total = 0
    end_iso: str | None = None
    for p in paths:
        rows, removed, last = _repair_part(p)
        total_rows += rows
        removed_total += removed
        end_iso = last or end_iso
        entry = dict(known.get(p.name, {"name": p.name}))
        entry["rows"] = rows
        files.append(entry)
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
