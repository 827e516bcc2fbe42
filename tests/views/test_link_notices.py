"""Changes another client makes are said in the main view and written in the recording."""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QInputDialog

from ctp10_gui.hardware.ctp10 import CTP10
from ctp10_gui.hardware.transport import VisaTransport
from ctp10_gui.models.connection import LinkState
from ctp10_gui.models.settings import AppSettings
from ctp10_gui.views.link_notices import notice_text

Rig = Any  # conftest.Rig: window, controller, sim, store, settings


def test_only_the_events_that_matter_become_notices() -> None:
    assert notice_text("busy_elsewhere", "sweep started elsewhere") == (
        "Busy: sweep started elsewhere — live data is paused and resumes when the scan ends.")
    assert notice_text("changed_elsewhere", "10.0.0.5:5025: changed on the instrument") == (
        "10.0.0.5:5025: changed on the instrument.")
    assert notice_text("stale", "no reply for 1.0 s") is None  # the badge says that
    # One sentence per burst of unit changes comes from main_view_notices, not one per event.
    assert notice_text("unit_changed", "module 4 channel 1 replies in mW instead of dBm") is None


@pytest.mark.slow
def test_a_wavelength_and_a_sweep_of_another_client_are_notices_and_event_rows(
        qtbot: Any, make_rig: Callable[..., Rig], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: ("", True)))
    rig = make_rig(settings=AppSettings(window_s=10.0, record_folder=str(tmp_path / "rec")),
                   sim_options={"max_clients": 2, "speedup": 1.0})
    window, ctl = rig.window, rig.controller
    other = CTP10(VisaTransport(rig.sim.address, io_timeout_s=2.0))
    try:
        window.connect_initial()
        qtbot.waitUntil(lambda: ctl.status.state is LinkState.LIVE, timeout=5000)
        qtbot.waitUntil(lambda: bool(window.recording.instrument_state), timeout=5000)
        window.recording.record_action.trigger()
        other.connect()
        # The watch has read its first settings 0.25 s after live began.
        t_live = ctl.status.since
        qtbot.waitUntil(lambda: time.monotonic() > t_live + 0.6, timeout=2000)
        with qtbot.waitSignal(window.recording.instrument_state_changed, timeout=5000):
            other.detector(4, 1).set("wavelength_nm", 1310.0)  # read again once said
            qtbot.waitUntil(lambda: "changed on the instrument by another client"
                            in window.notice_label.text(), timeout=2000)
        assert window.notice_label.isVisibleTo(window)
        other.start_sweep()
        qtbot.waitUntil(lambda: ctl.status.state is LinkState.BUSY, timeout=2000)
        assert [s.text for s in window.badges.specs][1] == "Busy: sweep started elsewhere"
        assert "Busy: sweep started elsewhere" in window.notice_label.text()
        qtbot.waitUntil(lambda: ctl.status.state is LinkState.LIVE, timeout=15000)
        assert "live resumed" in window.notice_label.text()
        status = window.recording.stop_recording()
    finally:
        other.close()
        rig.close()
    (part,) = status.files
    with open(part, newline="", encoding="utf-8") as f:
        events = [r[-1] for r in list(csv.reader(f))[1:] if r[-1]]
    changed = [e for e in events if e.startswith("changed_elsewhere: ")]
    assert len(changed) == 1
    assert changed[0].endswith("calibration wavelength 1310 nm (was 1550 nm)")
    assert "busy_elsewhere: sweep started elsewhere" in events
    assert any(e.startswith("busy_elsewhere_ended: ") for e in events)
