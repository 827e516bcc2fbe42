"""The real app on the simulator: sweeps and references become event rows, sidecars hold state."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from ctp10_gui.app import build, start
from ctp10_gui.models.connection import LinkState
from ctp10_gui.models.recording.events import describe_reference


def test_sweeps_and_references_are_event_rows_and_sidecars_hold_the_wavelengths(
    qtbot: Any, user_dirs: Path
) -> None:
    ctx = build(["--simulate", "--settings", str(user_dirs / "s.json")])
    read_back: list[list[Any]] = []  # every reference read of the sweep panel, in order
    ctx.window.sweep.references_updated.connect(read_back.append)
    waves_read: list[dict[int, float]] = []
    ctx.window.live_controls.wavelengths_read.connect(waves_read.append)
    try:
        start(ctx)
        recording, sweep = ctx.window.recording, ctx.window.sweep
        # Both are read when the link comes up.
        qtbot.waitUntil(lambda: len(read_back) == 1 and len(waves_read) == 1, timeout=8000)
        waves = waves_read[0]
        assert waves and all(1240.0 <= w <= 1680.0 for w in waves.values())
        qtbot.waitUntil(lambda: ctx.controller.status.state is LinkState.LIVE, timeout=8000)
        assert recording.start_recording(user_dirs / "rec")
        with qtbot.waitSignal(sweep.sweep_started, timeout=5000):
            sweep.start_action.trigger()
        qtbot.waitUntil(lambda: ctx.controller.status.state is LinkState.BUSY, timeout=5000)
        with qtbot.waitSignal(sweep.sweep_finished, timeout=10_000) as finished:
            sweep.abort_action.trigger()
        assert finished.args[0] == "aborted"
        qtbot.waitUntil(lambda: ctx.controller.status.state is LinkState.LIVE, timeout=8000)
        with qtbot.waitSignal(sweep.references_updated, timeout=20_000) as taken:
            sweep.create_references()
        status = recording.stop_recording()
        with qtbot.waitSignal(recording.message, timeout=10_000) as saved:
            recording.save_last(5.0, user_dirs / "saved")
    finally:
        ctx.shutdown()

    first = [describe_reference(m, c, r) for m, c, r in read_back[0]]
    new = [describe_reference(m, c, r) for m, c, r in taken.args[0]]
    assert first and all(t.endswith(": none") for t in first)
    assert new and all(": taken " in t for t in new)
    sweep_events = ["sweep: started", f"sweep: aborted: {finished.args[1]}"]
    assert status.error is None and status.sidecar is not None
    (saved_sidecar,) = (user_dirs / "saved").glob("*.json")
    for sidecar in (status.sidecar, saved_sidecar):
        side = json.loads(sidecar.read_text())
        assert side["complete"] is True
        state = side["instrument_state"]  # the settings the data was taken with
        assert {str(c) for c in side["channels"]} <= set(state["detectors"])
        assert state["sweep"]["start_nm"] < state["sweep"]["stop_nm"]
        assert any(t["identifier"] for t in state["tunable_lasers"].values())
        assert side["wavelengths_nm"] == {
            str(c): w for c, w in waves.items() if c in side["channels"]
        } != {}
        rows: list[list[str]] = []
        for f in side["files"]:
            with open(sidecar.parent / f["name"], newline="", encoding="utf-8") as fh:
                rows += list(csv.reader(fh))[1:]
        events = [r[-1] for r in rows if r[-1]]
        assert [e for e in events if e.startswith("sweep:")] == sweep_events, sidecar
        # The live recording started after the first read; the flight recorder holds it.
        refs = [e.removeprefix("reference: ") for e in events if e.startswith("reference:")]
        assert refs == (new if sidecar == status.sidecar else first + new), sidecar
    assert saved.args[0].startswith("Saved ")
