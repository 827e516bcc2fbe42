"""Synchronous writer of one session's CSV parts and sidecar (used by both recorders)."""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctp10_gui.models.recording.files import describe_oserror, fsync_dir, write_json_atomic
from ctp10_gui.models.recording.format import (
    SIDECAR_FORMAT,
    BatchLike,
    RecordingMetadata,
    TimeFormatter,
    format_event,
    format_rows,
    header_line,
    identity_dict,
    iso_now,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SaveResult:
    """What a finished write of a whole session produced (rows = snapshot + event rows)."""

    sidecar: Path
    files: tuple[Path, ...]
    rows: int
    events: int
    bytes_written: int




class SessionWriter:
    """Write one session's CSV parts and sidecar synchronously (used by both recorders).

    Raises OSError on I/O failure; callers decide how to surface it.
    """

    def __init__(
        self,
        folder: Path,
        metadata: RecordingMetadata,
        *,
        start_wall: float,
        source: str,
        max_part_bytes: int | None = None,
        max_part_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        fsync: Callable[[int], None] = os.fsync,
    ) -> None:
        self.folder = Path(folder)
        self.metadata = metadata
        self.start_wall = start_wall
        self.source = source
        self.max_part_bytes = max_part_bytes
        self.max_part_s = max_part_s
        self._clock = clock
        self._fsync = fsync
        self._timefmt = TimeFormatter()
        self._fd: int | None = None
        self._buffer: list[bytes] = []
        self._buffered = 0
        self.session = ""
        self.sidecar = Path()
        self.files: list[dict[str, Any]] = []
        self.paths: list[Path] = []
        self.layout: tuple[int, tuple[int, ...]] = (metadata.module, tuple(metadata.channels))
        self.part_bytes = 0
        self.part_started = 0.0
        self.bytes_written = 0
        self.rows = 0
        self.events = 0
        self.fsyncs = 0
        self.end_wall: float | None = None
        self.extra_sidecar: dict[str, Any] = {}

    # -- lifecycle
    def open(self) -> None:
        """Create the folder, pick a unique session name, write the sidecar and open part 1."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OSError(e.errno, describe_oserror("cannot create folder", self.folder, e)) from e
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(self.start_wall))
        for n in itertools.count(1):
            name = f"session_{stamp}" if n == 1 else f"session_{stamp}-{n}"
            # Both files are written first, so either one existing means the name is taken.
            if (
                not (self.folder / f"{name}.json").exists()
                and not (self.folder / f"{name}_part001.csv").exists()
            ):
                break
        self.session = name
        self.sidecar = self.folder / f"{name}.json"
        self._open_part()

    def _open_part(self) -> None:
        path = self.folder / f"{self.session}_part{len(self.files) + 1:03d}.csv"
        module, channels = self.layout
        self.files.append(
            {"name": path.name, "rows": 0, "module": module, "channels": list(channels)}
        )
        self.paths.append(path)
        # Sidecar first: a crash right after still lists the part, so recovery finds it.
        self.write_sidecar(complete=False)
        try:
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as e:
            raise OSError(e.errno, describe_oserror("cannot create", path, e)) from e
        try:
            fsync_dir(self.folder)
        except OSError as e:  # durability of the directory entry only; the data path works
            log.warning("cannot fsync folder %s: %s", self.folder, e)
        self.part_bytes = 0
        self.part_started = self._clock()
        self._append(header_line(channels, self.metadata.unit))

    def _close_part(self) -> None:
        if self._fd is None:
            return
        try:
            self.flush()
            self._fsync(self._fd)
            self.fsyncs += 1
        finally:
            fd, self._fd = self._fd, None
            os.close(fd)

    def close(self, *, complete: bool = True) -> None:
        """Flush, fsync and close the open part, then finalise the sidecar (OSError raised)."""
        self._close_part()
        if self.end_wall is None:
            self.end_wall = time.time()
        self.write_sidecar(complete=complete)

    def abandon(self) -> None:
        """Close the file descriptor without writing anything more (after an I/O error)."""
        self._buffer.clear()
        self._buffered = 0
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.close(fd)
            except OSError as e:
                log.warning("closing %s after an error failed: %s", self.current_path, e)

    # -- data
    @property
    def current_path(self) -> Path | None:
        """Return the CSV part being written."""
        return self.paths[-1] if self.paths else None

    @property
    def n_channels(self) -> int:
        """Return the channel count of the current part."""
        return len(self.layout[1])

    def _append(self, text: str) -> None:
        data = text.encode("utf-8")
        self._buffer.append(data)
        self._buffered += len(data)
        self.part_bytes += len(data)

    def _rotate_if_due(self, layout: tuple[int, tuple[int, ...]]) -> None:
        due = layout != self.layout
        if self.max_part_bytes is not None and self.part_bytes >= self.max_part_bytes:
            due = True
        if self.max_part_s is not None and self._clock() - self.part_started >= self.max_part_s:
            due = True
        if due:
            self._close_part()
            self.layout = layout
            self._open_part()

    def write_batch(self, batch: BatchLike) -> None:
        """Append one row per snapshot of the batch (rotating first when due)."""
        n = len(batch.t_wall)
        if n == 0:
            return
        self._rotate_if_due((int(batch.module), tuple(int(c) for c in batch.channels)))
        self._append(
            format_rows(
                batch.t_wall, batch.values_dbm, batch.status, self.metadata.unit, self._timefmt
            )
        )
        self.rows += n
        self.files[-1]["rows"] += n
        self.end_wall = float(batch.t_wall[-1])

    def write_event(self, t_wall: float, kind: str, text: str) -> None:
        """Append one event row (rotating first when due by size or time)."""
        self._rotate_if_due(self.layout)
        self._append(format_event(t_wall, self.n_channels, kind, text, self._timefmt))
        self.events += 1
        self.files[-1]["rows"] += 1
        self.end_wall = t_wall

    def flush(self) -> None:
        """Hand buffered complete lines to the OS in one write (a kill -9 keeps them)."""
        if not self._buffer or self._fd is None:
            return
        data = b"".join(self._buffer)
        self._buffer.clear()
        self._buffered = 0
        view = memoryview(data)
        path = self.paths[-1]  # an open descriptor always belongs to the newest part
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
                self.bytes_written += written
        except OSError as e:
            raise OSError(e.errno, describe_oserror("cannot write", path, e)) from e

    def sync(self) -> None:
        """Flush and fsync the open part (survives a power cut, not just a crash)."""
        self.flush()
        if self._fd is not None:
            self._fsync(self._fd)
            self.fsyncs += 1

    def sidecar_data(self, *, complete: bool) -> dict[str, Any]:
        """Return the sidecar JSON content."""
        md = self.metadata
        first_module, first_channels = self.files[0]["module"], self.files[0]["channels"]
        data: dict[str, Any] = {
            "format": SIDECAR_FORMAT,
            "session": self.session,
            "source": self.source,
            "instrument": identity_dict(md.identity),
            "module": first_module,
            "channels": first_channels,
            "wavelengths_nm": {str(k): float(v) for k, v in md.wavelengths_nm.items()},
            "unit": md.unit,
            "time_columns": {"iso_time": "ISO-8601 local time", "unix_time": "s since epoch"},
            "references": {str(k): float(v) for k, v in md.references.items()},
            "app_version": md.app_version,
            "start_time": iso_now(self.start_wall),
            "start_unix": self.start_wall,
            "files": [dict(f) for f in self.files],
            **dict(md.extra),
            **self.extra_sidecar,
        }
        if complete:
            end = self.end_wall if self.end_wall is not None else self.start_wall
            data.update(
                end_time=iso_now(end),
                end_unix=end,
                rows=self.rows + self.events,
                snapshot_rows=self.rows,
                event_rows=self.events,
                complete=True,
            )
        return data

    def write_sidecar(self, *, complete: bool) -> None:
        """Write the sidecar atomically (temp file + rename)."""
        try:
            write_json_atomic(self.sidecar, self.sidecar_data(complete=complete))
        except OSError as e:
            raise OSError(e.errno, describe_oserror("cannot write", self.sidecar, e)) from e
