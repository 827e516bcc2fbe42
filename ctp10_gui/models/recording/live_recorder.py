"""The live recorder: a writer thread consuming a queue of batches and link events."""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctp10_gui.models.recording.format import BatchLike, RecordingMetadata
from ctp10_gui.models.recording.recovery import RecordingFolders
from ctp10_gui.models.recording.session_writer import SessionWriter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordingStatus:
    """Snapshot of a live recording for the status bar (elapsed in s, sizes in bytes)."""

    active: bool = False
    path: Path | None = None  # current CSV part
    elapsed_s: float = 0.0
    bytes_written: int = 0  # all parts, bytes of full rows in the files
    rows: int = 0  # snapshot rows fully in the files
    events: int = 0  # event rows fully in the files
    error: str | None = None  # sentence; set when recording stopped on its own
    sidecar: Path | None = None
    files: tuple[Path, ...] = ()
    dropped_batches: int = 0


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
        folders: RecordingFolders | None = None,
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
        self._folders = folders  # where the folder is remembered for recovery after a crash
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
            self._write_session(w)
        except Exception as e:  # a malformed batch or a bug: stop with a sentence, never hang
            log.exception("recorder thread failed")
            try:
                w.flush()  # the rows before the failure are whole: keep them
            except OSError as flush_error:
                log.error("rows before the failure not written: %s", flush_error)
            self._fail(f"Recording stopped by an internal error ({type(e).__name__}: {e})", w)

    def _write_session(self, w: SessionWriter) -> None:
        try:
            w.open()
            log.info("recording to %s", w.current_path)
        except OSError as e:
            self._fail(f"Recording could not start: {e.strerror or e}", w)
            return
        if self._folders is not None:
            try:
                self._folders.remember(w.folder)
            except OSError as e:  # recovery then finds a crash here only via the default folder
                log.warning("cannot remember %s for crash recovery: %s", w.folder, e)
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
            w.write_sidecar("open")

    def _fail(self, message: str, w: SessionWriter) -> None:
        self._accepting = False
        self._stopped_at = self._stopped_at or self._clock()
        if w.session:
            full = w.rows + w.events
            message += (
                f"; the session is marked incomplete and keeps its {full} full "
                f"row{'s' if full != 1 else ''}."
            )
        else:
            message += "."
        self._error = message
        log.error("%s", message)
        w.stop_after_error(message, self._wall_clock())
        self._finish()

    def _finish(self) -> None:
        self.thread_cpu_s = time.thread_time()
        self._final = self._compute_status(final=True)
        with self._done:
            self._processed = self._submitted
            self._done.notify_all()
