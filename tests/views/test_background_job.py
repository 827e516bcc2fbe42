"""Background jobs: outcome in the GUI thread, and a job outliving its owner ends quietly."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from shiboken6 import delete

from ctp10_gui.views.background_job import BackgroundJobs


def test_outcomes_arrive_in_the_gui_thread(qtbot: Any) -> None:
    jobs = BackgroundJobs()
    seen: list[tuple[str, object, bool]] = []
    main = threading.current_thread()
    jobs.start("double", lambda: 21 * 2,
               lambda r: seen.append(("done", r, threading.current_thread() is main)),
               lambda e: seen.append(("error", e, False)))

    def fail() -> int:
        raise ValueError("no such trace")

    jobs.start("fail", fail, lambda r: seen.append(("done", r, False)),
               lambda e: seen.append(("error", str(e), threading.current_thread() is main)))
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=5000)
    assert sorted(seen) == [("done", 42, True), ("error", "no such trace", True)]
    assert not jobs.busy


def test_a_job_that_ends_after_its_owner_was_deleted_raises_nothing(
        qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    raised: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: raised.append(args.exc_value))
    jobs = BackgroundJobs()
    release = threading.Event()
    thread = jobs.start("outlived", lambda: release.wait(5.0), lambda r: None, lambda e: None)
    delete(jobs)  # a closed window frees its children while their jobs still run
    release.set()
    thread.join(5.0)
    assert not thread.is_alive()
    assert raised == []
