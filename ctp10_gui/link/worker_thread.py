"""The thread that runs the acquisition loop: a daemon, so a stuck instrument never blocks exit.

A QThread still running when Qt tears down aborts the process, and Python waits for every
non-daemon thread at exit. The loop's I/O is broken from the GUI thread by the transport's
abort(), so it normally ends within milliseconds of a shutdown; should it be stuck anyway
(inside pyvisa-py's connect, bounded by the open timeout), a daemon thread lets the app exit.
Signals emitted from it reach GUI-thread receivers queued, as from a QThread.
"""

from __future__ import annotations

import threading

from ctp10_gui.link.worker import AcquisitionWorker

__all__ = ["WorkerThread"]


class WorkerThread:
    """Run an AcquisitionWorker's loop on a daemon thread; the worker stays in the GUI thread."""

    def __init__(self, worker: AcquisitionWorker) -> None:
        self._thread = threading.Thread(target=worker.run, name="ctp10-acquisition", daemon=True)

    def start(self) -> None:
        """Start the loop."""
        self._thread.start()

    def is_running(self) -> bool:
        """Return True while the loop runs."""
        return self._thread.is_alive()

    def wait(self, timeout_s: float) -> bool:
        """Wait at most timeout_s s for the loop to end; return True if it has."""
        self._thread.join(timeout_s)
        return not self._thread.is_alive()
