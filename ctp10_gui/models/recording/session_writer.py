"""Synchronous writer of one session's CSV parts and sidecar (used by both recorders)."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ctp10_gui.models.derived import DerivedChannel, computable, compute_columns
from ctp10_gui.models.recording.files import (
    create_exclusive,
    describe_oserror,
    lock_session,
    write_json_atomic,
)
from ctp10_gui.models.recording.format import (
    SIDECAR_FORMAT,
    BatchLike,
    RecordingMetadata,
    TimeFormatter,
    channel_label,
    derived_sidecar,
    format_event,
    format_rows,
    header_line,
    identity_dict,
    iso_now,
)
from ctp10_gui.models.recording.naming import session_stem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SaveResult:
    """What a finished write of a whole session produced (rows = snapshot + event rows)."""

    sidecar: Path
    files: tuple[Path, ...]
    rows: int
    events: int
    bytes_written: int


# Names tried before giving up: a folder with this many sessions started in one second, or
# with this many planted names, is not a folder to record into.
MAX_NAME_TRIES = 1000

# open: being written; complete: closed as asked; incomplete: stopped by a write error, with
# the rows counted that are fully in the files.
SidecarState = Literal["open", "complete", "incomplete"]


@dataclass
class _Pending:
    """Bytes handed to write() but not yet known to be in the file, with the rows they hold."""

    data: bytes
    rows: int  # snapshot rows (one line each)
    events: int  # event rows (one line each); a header is a line with neither


class SessionWriter:
    """Write one session's CSV parts and sidecar synchronously (used by both recorders).

    Names are claimed by exclusive creation, so two writers (threads or processes) starting in
    the same second on one folder get different sessions, and a planted name is skipped, never
    written through. Rows count only once their bytes are in the file. Raises OSError (with a
    sentence as strerror) on I/O failure; callers decide how to surface it.
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
        self._lock_fd: int | None = None
        self._pending: list[_Pending] = []
        self._part_number = 0
        self.session = ""
        self.sidecar = Path()
        self.files: list[dict[str, Any]] = []
        self.paths: list[Path] = []
        self.layout: tuple[int, tuple[int, ...]] = (metadata.module, tuple(metadata.channels))
        self.part_bytes = 0  # current part, bytes appended (written or still pending)
        self.part_size = 0  # current part, bytes of full lines known to be in the file
        self.part_started = 0.0
        self.bytes_written = 0  # all parts, bytes of full lines in the files
        self.rows = 0
        self.events = 0
        self.fsyncs = 0
        self.torn = False  # a partial line could not be cut off: recovery has to repair it
        self.end_wall: float | None = None
        self.extra_sidecar: dict[str, Any] = {}

    # -- lifecycle
    def open(self) -> None:
        """Create the folder, claim a free session name, write the sidecar and open part 1."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OSError(e.errno, describe_oserror("cannot create folder", self.folder, e)) from e
        md = self.metadata
        serial = (md.identity or {}).get("serial")
        stem = session_stem(self.start_wall, serial, md.module, md.channels, md.label)
        for n in range(1, MAX_NAME_TRIES + 1):
            name = stem if n == 1 else f"{stem}-{n}"
            if os.path.lexists(self.folder / f"{name}.json"):
                continue  # a sidecar (or anything else) already holds the name
            part = self.folder / f"{name}_part001.csv"
            try:
                fd = create_exclusive(part)
            except FileExistsError:
                continue  # another writer claimed it first, or a planted file or link
            except OSError as e:
                raise OSError(e.errno, describe_oserror("cannot create", part, e)) from e
            break
        else:
            raise OSError(
                errno.EEXIST,
                f"no free session name in {self.folder}: the {MAX_NAME_TRIES} names from "
                f"{stem} on are taken",
            )
        self.session = name
        self.sidecar = self.folder / f"{name}.json"
        self._part_number = 1
        try:
            self._lock_fd = lock_session(part)
        except OSError as e:  # only another process's recovery could then mistake it as crashed
            log.warning("cannot lock %s: %s", part, e)
        self._start_part(part, fd)

    def _start_part(self, path: Path, fd: int) -> None:
        module, channels = self.layout
        self.files.append(
            {"name": path.name, "rows": 0, "module": module, "channels": list(channels),
             "derived": [d.name for d in self.derived]}
        )
        self.paths.append(path)
        self._fd = fd
        self.part_bytes = self.part_size = 0
        self.part_started = self._clock()
        # A crash before the sidecar lists the part leaves it empty: recovery removes it.
        self.write_sidecar("open")
        self._append(header_line(channels, self.metadata.unit, self.derived), rows=0, events=0)

    def _open_next_part(self) -> None:
        for _ in range(MAX_NAME_TRIES):
            self._part_number += 1
            path = self.folder / f"{self.session}_part{self._part_number:03d}.csv"
            try:
                fd = create_exclusive(path)
            except FileExistsError:
                log.warning("%s already exists: the session goes on in the next part", path)
                continue
            except OSError as e:
                raise OSError(e.errno, describe_oserror("cannot create", path, e)) from e
            self._start_part(path, fd)
            return
        raise OSError(
            errno.EEXIST, f"no free part name for {self.session} in {self.folder}"
        )

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
        self.write_sidecar("complete" if complete else "incomplete")
        self._release_lock()

    def abandon(self) -> None:
        """Close every file without writing anything more, as a dying process would."""
        self._close_fd()
        self._release_lock()

    def stop_after_error(self, message: str, end_wall: float) -> None:
        """Close after an OSError and mark the sidecar incomplete with message; never raises."""
        self._close_fd()
        if self.session:
            self.extra_sidecar["error"] = message
            self.end_wall = end_wall
            try:
                # A partial line still in a part is left for recovery: the sidecar stays open.
                self.write_sidecar("open" if self.torn else "incomplete")
            except OSError as e:
                log.error(
                    "sidecar %s left unfinished (recoverable at next start): %s", self.sidecar, e
                )
        self._release_lock()  # only now may another app's recovery look at the session

    def _close_fd(self) -> None:
        self._pending.clear()
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.close(fd)
            except OSError as e:
                log.warning("closing %s after an error failed: %s", self.current_path, e)

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            fd, self._lock_fd = self._lock_fd, None
            with contextlib.suppress(OSError):
                os.close(fd)

    # -- data
    @property
    def current_path(self) -> Path | None:
        """Return the CSV part being written."""
        return self.paths[-1] if self.paths else None

    @property
    def n_channels(self) -> int:
        """Return the value columns of the current part: its channels and derived channels."""
        return len(self.layout[1]) + len(self.derived)

    @property
    def derived(self) -> tuple[DerivedChannel, ...]:
        """Return the derived channels the current part records (both inputs recorded)."""
        return computable(self.metadata.derived, self.layout[1])

    def _append(self, text: str, *, rows: int, events: int) -> None:
        data = text.encode("utf-8")
        self._pending.append(_Pending(data, rows, events))
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
            self._open_next_part()

    def write_batch(self, batch: BatchLike) -> None:
        """Append one row per snapshot of the batch (rotating first when due)."""
        n = len(batch.t_wall)
        if n == 0:
            return
        self._rotate_if_due((int(batch.module), tuple(int(c) for c in batch.channels)))
        derived = self.derived
        extra = None
        if derived:
            values, codes = compute_columns(derived, batch.channels, batch.values_dbm,
                                            batch.status)
            extra = ([d.kind for d in derived], values, codes)
        text = format_rows(
            batch.t_wall, batch.values_dbm, batch.status, self.metadata.unit, self._timefmt,
            extra,
        )
        self._append(text, rows=n, events=0)
        self.end_wall = float(batch.t_wall[-1])

    def write_event(self, t_wall: float, kind: str, text: str) -> None:
        """Append one event row (rotating first when due by size or time)."""
        self._rotate_if_due(self.layout)
        self._append(
            format_event(t_wall, self.n_channels, kind, text, self._timefmt), rows=0, events=1
        )
        self.end_wall = t_wall

    def _count(self, rows: int, events: int, nbytes: int) -> None:
        self.rows += rows
        self.events += events
        self.files[-1]["rows"] += rows + events
        self.part_size += nbytes
        self.bytes_written += nbytes

    def flush(self) -> None:
        """Hand pending lines to the OS in one write (a kill -9 keeps them); OSError raised.

        On a failed write only the lines fully in the file are counted, and a partial last
        line is cut off (``torn`` is set when even that fails).
        """
        if not self._pending or self._fd is None:
            return
        pending, self._pending = self._pending, []
        data = b"".join(p.data for p in pending)
        view = memoryview(data)
        written = 0
        try:
            while written < len(data):
                written += os.write(self._fd, view[written:])
        except OSError as e:
            self._count_partial(pending, written)
            path = self.paths[-1]  # an open descriptor always belongs to the newest part
            raise OSError(e.errno, describe_oserror("cannot write", path, e)) from e
        for p in pending:
            self._count(p.rows, p.events, len(p.data))

    def _count_partial(self, pending: list[_Pending], written: int) -> None:
        """Count the lines of the first `written` bytes of pending; cut a partial last line."""
        offset = 0
        for p in pending:
            if offset + len(p.data) <= written:
                self._count(p.rows, p.events, len(p.data))
                offset += len(p.data)
                continue
            head = p.data[: max(0, written - offset)]
            full = head.rfind(b"\n") + 1
            lines = head.count(b"\n")
            # Only a batch entry holds several lines; an event or header is one line, so a cut
            # one has no full line here.
            self._count(lines if p.rows else 0, 0, full)
            offset += full
            break
        if written > offset and self._fd is not None:
            try:
                os.ftruncate(self._fd, self.part_size)
            except OSError as e:
                self.torn = True
                log.error("cannot cut the partial last line of %s: %s", self.paths[-1], e)

    def sync(self) -> None:
        """Flush and fsync the open part (survives a power cut, not just a crash)."""
        self.flush()
        if self._fd is not None:
            self._fsync(self._fd)
            self.fsyncs += 1

    def sidecar_data(self, state: SidecarState) -> dict[str, Any]:
        """Return the sidecar JSON content for a session open, complete or incomplete."""
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
            "channel_labels": {str(c): channel_label(c, md.channel_labels)
                               for c in first_channels},
            "derived": derived_sidecar(md.derived),
            "time_columns": {"iso_time": "ISO-8601 local time", "unix_time": "s since epoch"},
            "references": {str(k): float(v) for k, v in md.references.items()},
            "label": md.label,
            "instrument_state": dict(md.instrument_state),
            "app_version": md.app_version,
            "start_time": iso_now(self.start_wall),
            "start_unix": self.start_wall,
            "files": [dict(f) for f in self.files],
            **dict(md.extra),
            **self.extra_sidecar,
        }
        if state != "open":
            end = self.end_wall if self.end_wall is not None else self.start_wall
            data.update(
                end_time=iso_now(end),
                end_unix=end,
                rows=self.rows + self.events,
                snapshot_rows=self.rows,
                event_rows=self.events,
                complete=state == "complete",
            )
        return data

    def write_sidecar(self, state: SidecarState) -> None:
        """Write the sidecar atomically (exclusive temp file + fsync + rename)."""
        try:
            write_json_atomic(self.sidecar, self.sidecar_data(state))
        except OSError as e:
            raise OSError(e.errno, describe_oserror("cannot write", self.sidecar, e)) from e
