"""Run plain-Python work off the GUI thread and deliver its outcome in the GUI thread.

The work callable must capture data, never widgets: a closure that holds a QObject could drop
the last reference to it in the worker thread, and a QObject freed outside the GUI thread can
deadlock PySide (Qt's connection lock against the GIL). The outcome crosses back through a
queued signal of a GUI-thread QObject, so `on_done` / `on_error` run in the GUI thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Qt, Signal

log = logging.getLogger("ctp10_gui.views")

T = TypeVar("T")

__all__ = ["BackgroundJobs"]


class BackgroundJobs(QObject):
    """Start named jobs on daemon threads; report each outcome in the GUI thread."""

    _finished = Signal(int, object, object)  # (job id, result, error: Exception | None)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._callbacks: dict[int, tuple[Callable[[Any], None], Callable[[Exception], None]]] = {}
        self._threads: dict[int, threading.Thread] = {}
        self._next_id = 1
        self._finished.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def start(self, name: str, work: Callable[[], T], on_done: Callable[[T], None],
              on_error: Callable[[Exception], None]) -> threading.Thread:
        """Run work() on a daemon thread named name; return the thread (tests may join it)."""
        job_id = self._next_id
        self._next_id += 1
        self._callbacks[job_id] = (on_done, on_error)
        finished = self._finished

        def report(result: object, error: Exception | None) -> None:
            try:
                finished.emit(job_id, result, error)
            except RuntimeError:  # the owner was deleted meanwhile (its window closed)
                log.info("background job %s ended after its owner was deleted", name)

        def run() -> None:
            try:
                result = work()
            except Exception as exc:  # every failure reaches on_error; none is lost
                if not isinstance(exc, OSError | ValueError):
                    log.exception("background job %s failed", name)
                report(None, exc)
            else:
                report(result, None)

        thread = threading.Thread(target=run, name=name, daemon=True)
        self._threads[job_id] = thread
        thread.start()
        return thread

    @property
    def busy(self) -> bool:
        """Return True while any job started here has not reported back."""
        return bool(self._callbacks)

    def join(self, timeout_s: float = 5.0) -> bool:
        """Wait up to timeout_s s in all for the running threads; return True if all ended."""
        for thread in list(self._threads.values()):
            thread.join(timeout_s)
        return not any(t.is_alive() for t in self._threads.values())

    def _deliver(self, job_id: int, result: object, error: object) -> None:
        on_done, on_error = self._callbacks.pop(job_id)
        self._threads.pop(job_id, None)
        if isinstance(error, Exception):
            on_error(error)
        else:
            on_done(result)
