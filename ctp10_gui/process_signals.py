"""SIGTERM, SIGHUP and SIGINT close the app the way closing its window does.

Python runs a signal handler only between bytecodes of the main thread, and the main thread
sits in Qt's event loop (C++) for seconds at a time. So the C-level handler writes the signal
number to a socket (``signal.set_wakeup_fd``) that a QSocketNotifier watches: the event loop
wakes at once, and the close runs as an ordinary Qt callback, in the GUI thread. The Python
handler itself does nothing, which also keeps Ctrl+C from raising KeyboardInterrupt (and
printing a traceback) in whatever slot happens to run.
"""

from __future__ import annotations

import logging
import signal
import socket
from collections.abc import Callable
from types import FrameType
from typing import Any

from PySide6.QtCore import QObject, QSocketNotifier

__all__ = ["CLOSING_SIGNALS", "ProcessSignals"]

log = logging.getLogger(__name__)

# SIGHUP does not exist on Windows.
CLOSING_SIGNALS: tuple[signal.Signals, ...] = tuple(
    s for s in (getattr(signal, name, None) for name in ("SIGTERM", "SIGHUP", "SIGINT"))
    if s is not None
)


def _ignore(signum: int, frame: FrameType | None) -> None:
    """Do nothing in Python: the wakeup socket carries the signal to the event loop."""


class ProcessSignals(QObject):
    """Call on_signal(signum) in the Qt event loop, once, for the first closing signal."""

    def __init__(self, on_signal: Callable[[int], None],
                 signals: tuple[signal.Signals, ...] = CLOSING_SIGNALS,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._on_signal = on_signal
        self._signals = signals
        self._previous: dict[signal.Signals, Any] = {}
        self._old_wakeup_fd = -1
        self._receiver: socket.socket | None = None
        self._sender: socket.socket | None = None
        self._notifier: QSocketNotifier | None = None
        self._fired = False

    def install(self) -> None:
        """Take over the signals (main thread only); idempotent."""
        if self._receiver is not None:
            return
        self._receiver, self._sender = socket.socketpair()
        for sock in (self._receiver, self._sender):
            sock.setblocking(False)
        self._old_wakeup_fd = signal.set_wakeup_fd(self._sender.fileno(),
                                                   warn_on_full_buffer=False)
        for sig in self._signals:
            self._previous[sig] = signal.signal(sig, _ignore)
        self._notifier = QSocketNotifier(self._receiver.fileno(), QSocketNotifier.Type.Read,
                                         self)
        self._notifier.activated.connect(self._on_wakeup)
        log.info("%s close the app", ", ".join(sig.name for sig in self._signals))

    def uninstall(self) -> None:
        """Give the signals back to their previous handlers; idempotent."""
        if self._receiver is None or self._sender is None:
            return
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()
        signal.set_wakeup_fd(self._old_wakeup_fd)
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier.deleteLater()
            self._notifier = None
        self._receiver.close()
        self._sender.close()
        self._receiver = self._sender = None

    def _on_wakeup(self) -> None:
        receiver = self._receiver
        if receiver is None:
            return
        try:
            data = receiver.recv(64)
        except BlockingIOError:
            return
        for signum in data:
            if signum not in self._signals:
                continue  # another signal Python handles itself (e.g. SIGCHLD)
            name = signal.Signals(signum).name
            if self._fired:
                log.info("%s received while already closing", name)
                continue
            self._fired = True
            log.info("%s received: closing the app", name)
            self._on_signal(signum)
