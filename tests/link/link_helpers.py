"""Helpers for the link tests: a state recorder, connect and backoff helpers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ctp10_gui.link.controller import LinkController
from ctp10_gui.models.connection import (
    BackoffPolicy,
    LinkState,
    LinkStatus,
)

# Small waits so a fault test costs seconds, not minutes; one test keeps the defaults.
FAST_BACKOFF = BackoffPolicy(initial_s=0.1, factor=2.0, cap_s=0.4, jitter=0.2, max_attempts=50)
STALE_TOLERANCE_S = 0.05  # timer and queued-signal latency on a loaded 2-core machine


class StateRecorder:
    """Record every state_changed with its monotonic arrival time."""

    def __init__(self, controller: LinkController) -> None:
        self.events: list[tuple[float, LinkStatus]] = []
        controller.state_changed.connect(self._on_state)

    def _on_state(self, status: LinkStatus) -> None:
        self.events.append((time.monotonic(), status))

    def states(self, since: float = 0.0) -> list[LinkState]:
        """Return the sequence of states entered since a time, repeats of one state merged."""
        out: list[LinkState] = []
        for t, status in self.events:
            if t >= since and (not out or out[-1] is not status.state):
                out.append(status.state)
        return out

    def time_of(self, state: LinkState, since: float = 0.0) -> float:
        """Return when `state` was first entered at or after `since` (KeyError if never)."""
        for t, status in self.events:
            if t >= since and status.state is state:
                return t
        raise KeyError(f"{state} never entered after {since}; saw {self.states(since)}")

    def statuses(self, state: LinkState) -> list[LinkStatus]:
        """Return every status reported in `state`."""
        return [s for _, s in self.events if s.state is state]


def connect_live(qtbot, controller: LinkController, address: str,
                 timeout_ms: int = 5000) -> None:
    """Connect and wait until batches flow."""
    batches: list[object] = []

    def count(batch: object) -> None:
        batches.append(batch)

    controller.batch_received.connect(count)
    controller.connect_to(address)
    qtbot.waitUntil(lambda: controller.status.state is LinkState.LIVE and len(batches) >= 2,
                    timeout=timeout_ms)
    controller.batch_received.disconnect(count)


def remaining_backoff(recorder: StateRecorder, t: float) -> float:
    """Return the s left at monotonic time t of the backoff wait in force then (0 if none)."""
    status = None
    for arrived, s in recorder.events:
        if arrived > t:
            break
        status = s
    if status is None or status.state is not LinkState.RECONNECTING:
        return 0.0
    if status.next_attempt_at is None:
        return 0.0
    return max(0.0, status.next_attempt_at - t)


def off_gui_thread(qtbot, fn: Callable[[], object], timeout_ms: int = 20000) -> float:
    """Run a blocking fault injection (kill, restart...) in a helper thread while the GUI event
    loop keeps running, so the GUI-gap meter measures the app, not the test's own wait.
    Return the monotonic time at which fn returned."""
    done = threading.Event()
    failure: list[BaseException] = []
    finished: list[float] = []

    def run() -> None:
        try:
            fn()
        except BaseException as exc:  # handed to the test thread below
            failure.append(exc)
        finally:
            finished.append(time.monotonic())
            done.set()

    threading.Thread(target=run, name="fault-injection", daemon=True).start()
    qtbot.waitUntil(done.is_set, timeout=timeout_ms)
    if failure:
        raise failure[0]
    return finished[0]
