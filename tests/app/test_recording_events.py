"""The real app on the simulator: sweeps become event rows, sidecars carry the wavelengths read."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from ctp10_gui.app import build, start
from ctp10_gui.models.connection import LinkState


def test_a_sweep_is_recorded_as_event_rows_and_sidecars_hold_the_wavelengths(
    qtbot: Any, user_dirs: Path
) -> None:
    ctx = build(["--simulate", "--settings", str(user_dirs / "s.json")])
    try:
        start(ctx)
        recording, sweep = ctx.parts.recording, ctx.parts.sweep
        with qtbot.waitSignal(ctx.window.live_controls.wavelengths_read, timeout=8000) as read:
            pass
        waves: dict[int, float] = read.args[0]
        assert waves and all(1240.0 <= w <= 1680.0 for w in waves.values())
        qtbot.waitUntil(lambda: ctx.controller.status.state is LinkState.LIVE, timeout=8000)
        assert recording.start_recording(user_dirs / "rec")
        with qtbot.waitSignal(sweep.sweep_started, timeout=5000):
            sweep.start_action.trigger()
        qtbot.waitUntil(lambda: ctx.controller.status.state is LinkState.BUSY, timeout=5000)
        with qtbot.waitSignal(sweep.sweep_finished, timeout=10_000) as finished:
            sweep.abort_action.trigger()
        assert finished.args[0] == "aborted"
        status = recording.stop_recording()
        with qtbot.waitSignal(recording.message, timeout=10_000) as saved:
            recording.save_last(5.0, user_dirs / "saved")
    finally:
        ctx.shutdown()

    expected_events = ["sweep: started", f"sweep: aborted: {finished.args[1]}"]
    assert status.error is None and status.sidecar is not None
    for sidecar in (status.sidecar, *(user_dirs / "saved").glob("session_*.json")):
        side = json.loads(sidecar.read_text())
        assert side["complete"] is True
        assert side["wavelengths_nm"] == {
            str(c): w for c, w in waves.items() if c in side["channels"]
        } != {}
        rows: list[list[str]] = []
        for f in side["files"]:
            with open(sidecar.parent / f["name"], newline="", encoding="utf-8") as fh:
                rows += list(csv.reader(fh))[1:]
        events = [r[-1] for r in rows if r[-1]]
        assert [e for e in events if e.startswith("sweep:")] == expected_events, sidecar
    assert saved.args[0].startswith("Saved ")
