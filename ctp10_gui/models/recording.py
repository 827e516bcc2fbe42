"""Crash-safe CSV recording of live power, the in-memory flight recorder, and crash recovery.

File format (one session = one sidecar JSON + one or more CSV parts):

``session_YYYYmmdd-HHMMSS.json`` describes the session; ``session_YYYYmmdd-HHMMSS_partNNN.csv``
hold the rows. Each part starts with one comment-free header line::

    iso_time,unix_time,ch1_dBm,ch1_status,ch2_dBm,ch2_status,event

then one row per snapshot (ISO-8601 local time with offset and milliseconds, unix time in s with
µs, per channel the value in the unit named in the header — empty when there is none — and the
status ok/under/over/error) and one row per link event (empty values, the event text in the
last column). A new part starts on rotation (size/time) and when the module or channel set
changes, each with its own header. Every row ends in a newline and rows never contain a
newline, so counting newlines counts rows and a crash leaves at most one torn last line.

Nothing here imports Qt: the writer is a plain ``threading.Thread`` consuming a queue.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import math
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from ctp10_gui import __version__
from ctp10_gui.hardware.power import ChannelStatus
from ctp10_gui.models.readout import dbm_to_mw

log = logging.getLogger(__name__)

PowerUnitName = Literal["dBm", "mW"]

# Index = ChannelStatus value: ("ok", "under", "over", "error").
STATUS_NAMES: tuple[str, ...] = tuple(s.name.lower() for s in sorted(ChannelStatus))
SIDECAR_FORMAT = "ctp10-gui recording 1"
EVENT_KINDS = ("connect", "disconnect", "reconnect_attempt", "reconnect", "different_instrument")

# Flight recorder storage per snapshot row: t_wall float64 (8 B) + layout id uint16 (2 B)
# + per channel column value float32 (4 B) + status int8 (1 B) -> 10 + 5·C bytes
# (30 B for 4 channels: 60 min at 1 kHz = 3.6 M rows = 108 MB; at the default 20 Hz, 2.2 MB).
FLIGHT_ROW_FIXED_BYTES = 10
FLIGHT_BYTES_PER_CHANNEL = 5
FLIGHT_DEFAULT_MAX_BYTES = 256 * 1024 * 1024


class BatchLike(Protocol):
    """What the recorders read from a models.samples.SnapshotBatch."""

    module: int
    channels: tuple[int, ...]
    t_wall: np.ndarray
    values_dbm: np.ndarray
    status: np.ndarray


@dataclass(frozen=True)
class RecordingMetadata:
    """Describe a recording for the sidecar JSON; module/channels give the first header."""

    module: int
    channels: tuple[int, ...]
    unit: PowerUnitName = "dBm"
    identity: Mapping[str, str] | None = None
    wavelengths_nm: Mapping[int, float] = field(default_factory=dict)
    references: Mapping[str, float] = field(default_factory=dict)
    app_version: str = __version__
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordingStatus:
    """Snapshot of a live recording for the status bar (elapsed in s, sizes in bytes)."""

    active: bool = False
    path: Path | None = None  # current CSV part
    elapsed_s: float = 0.0
    bytes_written: int = 0  # all parts, bytes handed to the OS
    rows: int = 0  # snapshot rows
    events: int = 0  # event rows
    error: str | None = None  # sentence; set when recording stopped on its own
    sidecar: Path | None = None
    files: tuple[Path, ...] = ()
    dropped_batches: int = 0


@dataclass(frozen=True)
class SaveResult:
    """What a finished write of a whole session produced (rows = snapshot + event rows)."""

    sidecar: Path
    files: tuple[Path, ...]
    rows: int
    events: int
    bytes_written: int


@dataclass(frozen=True)
class RecoveryReport:
    """Outcome of closing an unfinished recording (rows counted, bytes of torn line removed)."""

    sidecar: Path
    files: tuple[Path, ...]
    rows: int
    truncated_bytes: int
    end_time: str | None
    message: str


# ---------------------------------------------------------------- formatting


def identity_dict(identity: object | None) -> dict[str, str] | None:
    """Return an instrument identity (hardware Identity dataclass or mapping) as a plain dict."""
    if identity is None:
        return None
    if dataclasses.is_dataclass(identity) and not isinstance(identity, type):
        return {k: str(v) for k, v in dataclasses.asdict(identity).items()}
    if isinstance(identity, Mapping):
        return {str(k): str(v) for k, v in identity.items()}
    return {"raw": str(identity)}


def header_line(channels: Sequence[int], unit: PowerUnitName) -> str:
    """Return the CSV header line (with newline) for these channel numbers and unit."""
    cols = ["iso_time", "unix_time"]
    for c in channels:
        cols += [f"ch{c}_{unit}", f"ch{c}_status"]
    cols.append("event")
    return ",".join(cols) + "\n"


def _csv_field(text: str) -> str:
    """Return text as one CSV field on one line (newlines become spaces, RFC 4180 quoting)."""
    text = text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    if any(ch in text for ch in ',"'):
        return '"' + text.replace('"', '""') + '"'
    return text


class _TimeFormatter:
    """Format unix times as ISO-8601 local time with offset and ms, caching per second."""

    def __init__(self) -> None:
        self._sec = -(2**62)
        self._prefix = ""
        self._offset = ""

    def iso(self, ms_total: int) -> str:
        """Return ISO-8601 local time for a unix time given in integer milliseconds."""
        sec, ms = divmod(ms_total, 1000)
        if sec != self._sec:
            tm = time.localtime(sec)
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", tm)
            off = tm.tm_gmtoff or 0
            sign = "+" if off >= 0 else "-"
            off = abs(off)
            self._offset = f"{sign}{off // 3600:02d}:{off % 3600 // 60:02d}"
            self._sec = sec
        return f"{self._prefix}.{ms:03d}{self._offset}"


def _ms(t: float) -> int:
    return round(t * 1000.0)


def format_rows(
    t_wall: np.ndarray,
    values_dbm: np.ndarray,
    status: np.ndarray,
    unit: PowerUnitName,
    timefmt: _TimeFormatter | None = None,
) -> str:
    """Return CSV snapshot rows (each ending in newline) for N×C dBm values and statuses."""
    timefmt = timefmt or _TimeFormatter()
    t = np.asarray(t_wall, dtype=np.float64)
    n = len(t)
    if n == 0:
        return ""
    vals = np.asarray(values_dbm, dtype=np.float64).reshape(n, -1)
    if unit == "mW":
        vals = dbm_to_mw(vals)
    fmt = "{:.6g}".format if unit == "mW" else "{:.4f}".format
    names, last = STATUS_NAMES, len(STATUS_NAMES) - 1
    isfinite = math.isfinite
    tl = t.tolist()
    # Column by column in plain Python: a batch is ~20 rows, where numpy's per-call overhead
    # would cost more than the formatting itself (79 vs 149 µs per 20-row batch).
    columns: list[list[str]] = [
        [timefmt.iso(round(x * 1000.0)) for x in tl],
        [f"{x:.6f}" for x in tl],
    ]
    codes = np.asarray(status).reshape(n, -1).T.tolist()
    for col_v, col_s in zip(vals.T.tolist(), codes, strict=True):
        columns.append([fmt(x) if isfinite(x) else "" for x in col_v])
        # Statuses outside ChannelStatus (e.g. a history gap marker) are written as "error".
        columns.append([names[x] if 0 <= x <= last else "error" for x in col_s])
    columns.append([""] * n)
    return "\n".join(map(",".join, zip(*columns, strict=True))) + "\n"


def format_event(
    t_wall: float, n_channels: int, kind: str, text: str, timefmt: _TimeFormatter | None = None
) -> str:
    """Return one CSV event row (with newline): empty values, 'kind: text' in the event column."""
    timefmt = timefmt or _TimeFormatter()
    label = f"{kind}: {text}" if text else kind
    empties = "," * (2 * n_channels)
    return f"{timefmt.iso(_ms(t_wall))},{t_wall:.6f},{empties}{_csv_field(label)}\n"


def _iso_now(t_wall: float) -> str:
    return datetime.fromtimestamp(t_wall).astimezone().isoformat(timespec="milliseconds")


def _write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=False)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _fsync_dir(folder: Path) -> None:
    # Makes a new file's directory entry durable; POSIX only (Windows cannot open a folder).
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _describe_oserror(action: str, path: Path, exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    return f"{action} {path}: {reason}"


# ---------------------------------------------------------------- session writer (synchronous)


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
        self._timefmt = _TimeFormatter()
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
            raise OSError(e.errno, _describe_oserror("cannot create folder", self.folder, e)) from e
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
            raise OSError(e.errno, _describe_oserror("cannot create", path, e)) from e
        try:
            _fsync_dir(self.folder)
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
        path = self.current_path
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
                self.bytes_written += written
        except OSError as e:
            raise OSError(e.errno, _describe_oserror("cannot write", path, e)) from e

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
            "start_time": _iso_now(self.start_wall),
            "start_unix": self.start_wall,
            "files": [dict(f) for f in self.files],
            **dict(md.extra),
            **self.extra_sidecar,
        }
        if complete:
            end = self.end_wall if self.end_wall is not None else self.start_wall
            data.update(
                end_time=_iso_now(end),
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
            _write_json_atomic(self.sidecar, self.sidecar_data(complete=complete))
        except OSError as e:
            raise OSError(e.errno, _describe_oserror("cannot write", self.sidecar, e)) from e


# ---------------------------------------------------------------- live recorder


_STOP = object()


class LiveRecorder:
    """Record batches and link events to CSV on a background thread; callers never block.

    write_batch/write_event only enqueue. The writer hands complete lines to the OS whenever
    its queue runs empty (each batch, ~every 20 ms) and at least every flush_interval_s under
    load, and fsyncs every fsync_interval_s. OSError stops the recording with status.error set;
    nothing raises into the caller.
    """

    def __init__(
        self,
        *,
        flush_interval_s: float = 1.0,
        fsync_interval_s: float = 5.0,
        max_part_bytes: int | None = 512 * 1024 * 1024,
        max_part_s: float | None = None,
        max_pending: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        fsync: Callable[[int], None] = os.fsync,
        idle_wake_s: float = 0.25,
    ) -> None:
        self.flush_interval_s = flush_interval_s
        self.fsync_interval_s = fsync_interval_s
        self.max_part_bytes = max_part_bytes
        self.max_part_s = max_part_s
        self.max_pending = max_pending
        self._clock = clock
        self._wall_clock = wall_clock
        self._fsync = fsync
        self._idle_wake_s = idle_wake_s
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._submitted = 0
        self._processed = 0
        self._dropped = 0
        self._accepting = False
        self._thread: threading.Thread | None = None
        self._writer: SessionWriter | None = None
        self._started_at = 0.0
        self._stopped_at: float | None = None
        self._error: str | None = None
        self._final: RecordingStatus | None = None
        self.fsyncs = 0
        self.thread_cpu_s = 0.0  # writer thread CPU time, s (for the benchmark)

    # -- caller side (any thread; never blocks)
    @property
    def active(self) -> bool:
        """Return True while rows are being accepted."""
        return self._accepting

    def start(self, folder: str | os.PathLike[str], metadata: RecordingMetadata) -> bool:
        """Start recording into folder; return False if already recording. Errors go to status."""
        if self._accepting or (self._thread is not None and self._thread.is_alive()):
            return False
        self._error = None
        self._final = None
        self._dropped = 0
        self._stopped_at = None
        self._started_at = self._clock()
        self._queue = queue.SimpleQueue()
        with self._lock:
            self._submitted = self._processed = 0
        self._writer = SessionWriter(
            Path(folder),
            metadata,
            start_wall=self._wall_clock(),
            source="live",
            max_part_bytes=self.max_part_bytes,
            max_part_s=self.max_part_s,
            clock=self._clock,
            fsync=self._fsync,
        )
        self._accepting = True
        self._thread = threading.Thread(target=self._run, name="ctp10-recorder", daemon=True)
        self._thread.start()
        return True

    def _submit(self, item: Any) -> None:
        with self._lock:
            if self._submitted - self._processed >= self.max_pending:
                # The disk cannot keep up: drop rather than grow memory without bound; the
                # writer records the count as an event row so the log shows the gap.
                self._dropped += 1
                return
            self._submitted += 1
        self._queue.put(item)

    def write_batch(self, batch: BatchLike) -> None:
        """Queue a SnapshotBatch for writing (returns at once; ignored when not recording)."""
        if self._accepting:
            self._submit(("batch", batch))

    def write_event(self, kind: str, text: str = "", t_wall: float | None = None) -> None:
        """Queue a link event row (kind e.g. 'disconnect', text the reason; t_wall in s)."""
        if self._accepting:
            t = self._wall_clock() if t_wall is None else t_wall
            self._submit(("event", t, kind, text))

    def update_metadata(self, **changes: Any) -> None:
        """Queue sidecar metadata changes (e.g. wavelengths_nm, identity) for this session."""
        if self._accepting:
            self._submit(("meta", changes))

    def stop(self, timeout_s: float = 5.0) -> RecordingStatus:
        """Stop: write what is queued, fsync, complete the sidecar; wait up to timeout_s."""
        thread = self._thread
        if self._accepting:
            self._accepting = False
            self._stopped_at = self._clock()
            self._queue.put(_STOP)
        if thread is not None:
            thread.join(timeout_s)
            if thread.is_alive():
                log.error("recorder thread still writing after %.1f s", timeout_s)
        return self.status

    def wait_idle(self, timeout_s: float = 5.0) -> bool:
        """Wait until everything queued so far is handed to the OS; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._done:
            target = self._submitted
            while self._processed < target and self._thread is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._thread.is_alive():
                    return self._processed >= target
                self._done.wait(remaining)
        return True

    @property
    def status(self) -> RecordingStatus:
        """Return the current status (cheap; safe from any thread)."""
        final = self._final
        return final if final is not None else self._compute_status()

    def _compute_status(self, *, final: bool = False) -> RecordingStatus:
        w = self._writer
        if w is None:
            return RecordingStatus(error=self._error)
        end = self._clock() if self._stopped_at is None else self._stopped_at
        return RecordingStatus(
            active=self._accepting and not final,
            path=w.current_path,
            elapsed_s=max(0.0, end - self._started_at),
            bytes_written=w.bytes_written,
            rows=w.rows,
            events=w.events,
            error=self._error,
            sidecar=w.sidecar if w.session else None,
            files=tuple(w.paths),
            dropped_batches=self._dropped,
        )

    # -- writer thread
    def _run(self) -> None:
        w = self._writer
        assert w is not None
        try:
            w.open()
            log.info("recording to %s", w.current_path)
        except OSError as e:
            self._fail(f"Recording could not start: {e.strerror or e}", w)
            return
        last_flush = last_sync = self._clock()
        reported_drops = 0
        stopping = False
        while not stopping:
            try:
                item = self._queue.get(timeout=self._idle_wake_s)
            except queue.Empty:
                item = None
            handled = 0
            try:
                while item is not None:
                    if item is _STOP:
                        stopping = True
                        break
                    self._handle(w, item)
                    handled += 1
                    # Sustained load never lets the queue run empty: flush and fsync on time too.
                    if self._clock() - last_flush >= self.flush_interval_s:
                        w.flush()
                        last_flush = self._clock()
                    if self._clock() - last_sync >= self.fsync_interval_s:
                        w.sync()
                        self.fsyncs += 1
                        last_sync = last_flush = self._clock()
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        item = None
                if self._dropped > reported_drops:
                    dropped = self._dropped - reported_drops
                    reported_drops = self._dropped
                    w.write_event(
                        self._wall_clock(),
                        "recorder_overflow",
                        f"{dropped} batches dropped: disk too slow",
                    )
                # Queue ran empty (or stop): hand every complete line to the OS now, so a
                # crash loses at most the batch in flight.
                w.flush()
                last_flush = self._clock()
                if not stopping and self._clock() - last_sync >= self.fsync_interval_s:
                    w.sync()
                    self.fsyncs += 1
                    last_sync = self._clock()
            except OSError as e:
                self._fail(f"Recording stopped: {e.strerror or e}", w)
                return
            self.thread_cpu_s = time.thread_time()
            if handled:
                with self._done:
                    self._processed += handled
                    self._done.notify_all()
        try:
            w.end_wall = self._wall_clock()
            w.close(complete=True)
            self.fsyncs += 1
            log.info(
                "recording stopped: %d rows, %d events in %s",
                w.rows,
                w.events,
                ", ".join(p.name for p in w.paths),
            )
        except OSError as e:
            self._fail(f"Recording stopped: {e.strerror or e}", w)
            return
        self._finish()

    def _handle(self, w: SessionWriter, item: tuple[Any, ...]) -> None:
        kind = item[0]
        if kind == "batch":
            w.write_batch(item[1])
        elif kind == "event":
            w.write_event(item[1], item[2], item[3])
        elif kind == "meta":
            w.metadata = dataclasses.replace(w.metadata, **item[1])
            w.write_sidecar(complete=False)

    def _fail(self, message: str, w: SessionWriter) -> None:
        self._accepting = False
        self._stopped_at = self._stopped_at or self._clock()
        self._error = message
        log.error("%s", message)
        w.abandon()
        if w.session:
            # Rows already written are good; mark the sidecar if the disk still lets us.
            try:
                w.extra_sidecar["error"] = message
                w.end_wall = self._wall_clock()
                w.write_sidecar(complete=True)
            except OSError as e:
                log.error(
                    "sidecar %s left unfinished (recoverable at next start): %s", w.sidecar, e
                )
        self._finish()

    def _finish(self) -> None:
        self.thread_cpu_s = time.thread_time()
        self._final = self._compute_status(final=True)
        with self._done:
            self._processed = self._submitted
            self._done.notify_all()


# ---------------------------------------------------------------- flight recorder


@dataclass(frozen=True)
class FlightExtract:
    """A copied slice of the flight recorder (rows oldest first; events (t_wall, kind, text))."""

    t_wall: np.ndarray
    values_dbm: np.ndarray  # (N, W) float64, columns beyond a row's layout are NaN
    status: np.ndarray  # (N, W) int8
    layout_ids: np.ndarray  # (N,) uint16 into layouts
    layouts: tuple[tuple[int, tuple[int, ...]], ...]
    events: tuple[tuple[float, str, str], ...]


@dataclass(frozen=True)
class _Chunk:
    module: int
    channels: tuple[int, ...]
    t_wall: np.ndarray
    values_dbm: np.ndarray
    status: np.ndarray


class FlightRecorder:
    """Always-on in-memory ring of the last `minutes` of snapshots and link events.

    Memory: 10 + 5·C bytes per snapshot row (C = widest channel set seen), grown by doubling
    only while the ring holds less than `minutes` of data, never past max_bytes.
    """

    def __init__(
        self,
        minutes: float = 60.0,
        *,
        max_bytes: int = FLIGHT_DEFAULT_MAX_BYTES,
        initial_rows: int = 4096,
        max_events: int = 10_000,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.minutes = max(0.0, float(minutes))
        self.max_bytes = int(max_bytes)
        self._wall_clock = wall_clock
        self._width = 1
        self._cap = 0
        self._initial_rows = max(16, int(initial_rows))
        self._t = np.empty(0, np.float64)
        self._v = np.empty((0, 1), np.float32)
        self._s = np.empty((0, 1), np.int8)
        self._lay = np.empty(0, np.uint16)
        self._head = 0  # next write index
        self._count = 0
        self._layouts: list[tuple[int, tuple[int, ...]]] = []
        self._layout_ids: dict[tuple[int, tuple[int, ...]], int] = {}
        self._events: deque[tuple[float, str, str]] = deque(maxlen=max_events)
        self._lock = threading.Lock()  # save_last may run off the GUI thread

    @staticmethod
    def bytes_per_row(n_channels: int) -> int:
        """Return the memory per snapshot row in bytes for n_channels columns."""
        return FLIGHT_ROW_FIXED_BYTES + FLIGHT_BYTES_PER_CHANNEL * n_channels

    @property
    def capacity(self) -> int:
        """Return rows the ring holds now."""
        return self._cap

    @property
    def max_rows(self) -> int:
        """Return the most rows max_bytes allows at the current width."""
        return max(1, self.max_bytes // self.bytes_per_row(self._width))

    @property
    def nbytes(self) -> int:
        """Return the bytes held by the ring arrays."""
        return self._t.nbytes + self._v.nbytes + self._s.nbytes + self._lay.nbytes

    def __len__(self) -> int:
        return self._count

    @property
    def window_s(self) -> float:
        """Return the time span to keep, s."""
        return self.minutes * 60.0

    @property
    def enabled(self) -> bool:
        """Return True unless minutes is 0 (flight recorder off)."""
        return self.minutes > 0

    def set_minutes(self, minutes: float) -> None:
        """Change the time span kept (0 = off, frees the memory); capped by max_bytes."""
        self.minutes = max(0.0, float(minutes))
        if not self.enabled:
            with self._lock:
                self._cap = self._head = self._count = 0
                self._t = np.empty(0, np.float64)
                self._v = np.empty((0, self._width), np.float32)
                self._s = np.empty((0, self._width), np.int8)
                self._lay = np.empty(0, np.uint16)

    def clear(self) -> None:
        """Forget all rows and events (memory is kept)."""
        with self._lock:
            self._head = self._count = 0
            self._events.clear()

    def _ordered(self, arr: np.ndarray) -> np.ndarray:
        start = (self._head - self._count) % self._cap if self._cap else 0
        if start + self._count <= self._cap:
            return arr[start : start + self._count]
        return np.concatenate([arr[start:], arr[: self._head]])

    def _reallocate(self, cap: int, width: int) -> None:
        keep = min(self._count, cap)
        t = np.empty(cap, np.float64)
        v = np.full((cap, width), np.nan, np.float32)
        s = np.full((cap, width), 3, np.int8)
        lay = np.zeros(cap, np.uint16)
        if keep:
            t[:keep] = self._ordered(self._t)[-keep:]
            v[:keep, : self._width] = self._ordered(self._v)[-keep:]
            s[:keep, : self._width] = self._ordered(self._s)[-keep:]
            lay[:keep] = self._ordered(self._lay)[-keep:]
        self._t, self._v, self._s, self._lay = t, v, s, lay
        self._cap, self._width = cap, width
        self._count = keep
        self._head = keep % cap

    def _layout_id(self, module: int, channels: tuple[int, ...]) -> int:
        key = (module, channels)
        lid = self._layout_ids.get(key)
        if lid is None:
            lid = len(self._layouts)
            if lid > np.iinfo(np.uint16).max:
                raise ValueError("more than 65535 channel layouts in one flight recorder")
            self._layouts.append(key)
            self._layout_ids[key] = lid
        return lid

    def _grown_capacity(self, n_new: int, newest_t: float) -> int:
        """Return the capacity needed to keep the window, judged from the rate seen so far."""
        needed = self._count + n_new
        if needed <= self._cap or self._cap >= self.max_rows:
            return self._cap
        oldest_t = float(self._t[(self._head - self._count) % self._cap])
        if oldest_t < newest_t - self.window_s:
            return self._cap  # the ring already spans the window: overwrite the oldest
        span = newest_t - oldest_t
        if span >= 1.0:
            # Size by minutes × observed rate (+10 %) rather than doubling: doubling a 3.6 M-row
            # ring would hold 2× the memory the window needs.
            estimate = math.ceil(needed / span * self.window_s * 1.1)
            target = max(needed, estimate, self._cap + self._cap // 4)
        else:
            target = max(needed, 2 * self._cap)
        return min(self.max_rows, target)

    def append(self, batch: BatchLike) -> None:
        """Add a SnapshotBatch (N rows); the oldest rows are overwritten when full."""
        n = len(batch.t_wall)
        if n == 0 or not self.enabled:
            return
        channels = tuple(int(c) for c in batch.channels)
        t = np.asarray(batch.t_wall, np.float64)
        with self._lock:
            width = max(self._width, len(channels))
            if width != self._width or self._cap == 0:
                max_rows = max(1, self.max_bytes // self.bytes_per_row(width))
                cap = max(self._cap, self._initial_rows, n)
                self._reallocate(min(cap, max_rows), width)
            else:
                cap = self._grown_capacity(n, float(t[-1]))
                if cap != self._cap:
                    self._reallocate(cap, width)
            lid = self._layout_id(int(batch.module), channels)
            v = np.asarray(batch.values_dbm).reshape(n, -1)
            st = np.asarray(batch.status).reshape(n, -1)
            if n > self._cap:
                t, v, st = t[-self._cap :], v[-self._cap :], st[-self._cap :]
                n = self._cap
            c = len(channels)
            # At most two contiguous slices (before and after the wrap): no fancy indexing.
            done = 0
            while done < n:
                start = self._head
                k = min(n - done, self._cap - start)
                rows = slice(start, start + k)
                src = slice(done, done + k)
                self._t[rows] = t[src]
                self._v[rows, :c] = v[src]
                self._s[rows, :c] = st[src]
                if c < self._width:
                    self._v[rows, c:] = np.nan
                    self._s[rows, c:] = int(ChannelStatus.ERROR)
                self._lay[rows] = lid
                self._head = (start + k) % self._cap
                done += k
            self._count = min(self._cap, self._count + n)

    def add_event(self, kind: str, text: str = "", t_wall: float | None = None) -> None:
        """Remember a link event (kind e.g. 'disconnect', text the reason, t_wall in s)."""
        if not self.enabled:
            return
        t = self._wall_clock() if t_wall is None else float(t_wall)
        with self._lock:
            self._events.append((t, kind, text))

    def extract(self, minutes: float | None = None) -> FlightExtract:
        """Return a copy of the rows and events from the last `minutes` (default: all kept)."""
        with self._lock:
            t = self._ordered(self._t).copy() if self._count else np.empty(0)
            now = self._wall_clock()
            t0 = -math.inf if minutes is None else now - float(minutes) * 60.0
            first = int(np.searchsorted(t, t0, side="left")) if len(t) else 0
            sel = slice(first, None)
            if self._count:
                v = self._ordered(self._v)[sel].astype(np.float64)
                s = self._ordered(self._s)[sel].copy()
                lay = self._ordered(self._lay)[sel].copy()
            else:
                v = np.empty((0, self._width))
                s = np.empty((0, self._width), np.int8)
                lay = np.empty(0, np.uint16)
            events = tuple(e for e in self._events if e[0] >= t0)
            return FlightExtract(t[sel], v, s, lay, tuple(self._layouts), events)

    def save_last(
        self,
        minutes: float,
        folder: str | os.PathLike[str],
        metadata: RecordingMetadata,
    ) -> SaveResult:
        """Write the last `minutes` as a complete session (CSV + JSON). Raises OSError."""
        return write_extract(
            self.extract(minutes),
            folder,
            metadata,
            source="flight_recorder",
            wall_clock=self._wall_clock,
        )


def _chunks(ex: FlightExtract) -> Iterable[_Chunk]:
    n = len(ex.t_wall)
    if n == 0:
        return
    change = np.flatnonzero(np.diff(ex.layout_ids.astype(np.int64))) + 1
    bounds = [0, *change.tolist(), n]
    for a, b in itertools.pairwise(bounds):
        module, channels = ex.layouts[int(ex.layout_ids[a])]
        c = len(channels)
        yield _Chunk(module, channels, ex.t_wall[a:b], ex.values_dbm[a:b, :c], ex.status[a:b, :c])


def write_extract(
    ex: FlightExtract,
    folder: str | os.PathLike[str],
    metadata: RecordingMetadata,
    *,
    source: str = "flight_recorder",
    wall_clock: Callable[[], float] = time.time,
    block_rows: int = 20_000,
) -> SaveResult:
    """Write an extract as a complete session in the recording format. Raises OSError."""
    first = next(iter(_chunks(ex)), None)
    if first is not None:
        metadata = dataclasses.replace(metadata, module=first.module, channels=first.channels)
    start = float(ex.t_wall[0]) if len(ex.t_wall) else wall_clock()
    if ex.events:
        start = min(start, ex.events[0][0])
    w = SessionWriter(Path(folder), metadata, start_wall=start, source=source)
    w.open()
    try:
        events = list(ex.events)
        ei = 0
        for chunk in _chunks(ex):
            n = len(chunk.t_wall)
            a = 0
            while a < n:
                # Interleave events by time so a gap is explained where it happens.
                limit = events[ei][0] if ei < len(events) else math.inf
                b = min(n, a + block_rows, int(np.searchsorted(chunk.t_wall, limit, "right")))
                if b > a:
                    w.write_batch(
                        _Chunk(
                            chunk.module,
                            chunk.channels,
                            chunk.t_wall[a:b],
                            chunk.values_dbm[a:b],
                            chunk.status[a:b],
                        )
                    )
                    w.flush()
                    a = b
                else:
                    w.write_event(*events[ei])
                    ei += 1
        for ev in events[ei:]:
            w.write_event(*ev)
        w.close(complete=True)
    except OSError:
        w.abandon()
        raise
    return SaveResult(w.sidecar, tuple(w.paths), w.rows + w.events, w.events, w.bytes_written)


# ---------------------------------------------------------------- crash recovery


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
        recovered_at=_iso_now(time.time()),
        truncated_bytes=removed_total,
    )
    _write_json_atomic(sidecar, data)
    torn = f", removed a torn last line ({removed_total} bytes)" if removed_total else ""
    message = (
        f"Closed unfinished recording {session}: {total_rows} rows in {len(paths)} "
        f"file{'s' if len(paths) != 1 else ''}{torn}."
    )
    log.info("%s", message)
    return RecoveryReport(sidecar, tuple(paths), total_rows, removed_total, end_iso, message)
