"""The sweep panel on a FakeLink over a replayed CTP10: the exact SCPI a click causes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fake_link import FakeLink
from PySide6.QtWidgets import QMessageBox

from ctp10_gui.hardware.ctp10 import TraceType
from ctp10_gui.hardware.replay import expected_protocol, ieee_block
from ctp10_gui.models.connection import LinkState
from ctp10_gui.models.traces import TraceStore
from ctp10_gui.procedures import deadline_s
from ctp10_gui.views.sweep_panel import SweepPanel

COND = ":STAT:OPER:COND?"
OK = ("SYST:ERR?", "0,No error")
NO_REFERENCE = (":REF:SENS4:CHAN1:RES?", "0")

def check(tls1_start: str = "1.502E-6", tls1_stop: str = "1.627E-6",
          speed: str = "20") -> list[tuple[str, str]]:
    """Return the pre-flight exchange: scan 1520–1560 nm + 1 s, TLS 1 a T100S-HP, idle."""
    return [
        (":INIT:WAV:STAR?", "1.52E-6"), (":INIT:WAV:STOP?", "1.56E-6"),
        (":INIT:WAV:SAMP?", "1.0E-12"), (":INIT:STAB?", "0,1"),
        (":INIT:TLS1:ID?", "1"), (":CTP:RLAS1:IDN?", "EXFO,T100S-HP,0,6.06"),
        (":INIT:TLS1:WAV:STAR?", tls1_start), (":INIT:TLS1:WAV:STOP?", tls1_stop),
        (":INIT:TLS1:SPE?", speed),
        (":INIT:TLS2:ID?", "0"), (":INIT:TLS3:ID?", "0"), (":INIT:TLS4:ID?", "0"),
        (COND, "0"),
    ]


PLAN = check()  # 40 nm at 20 nm/s + 1 s: 3 s expected
SETTINGS = [
    (":INIT:WAV:STAR?", "1.52E-6"), (":INIT:WAV:STOP?", "1.56E-6"),
    (":INIT:WAV:SAMP?", "1.0E-12"), (":INIT:STAB?", "0,1"), (":INIT:STAB?", "0,1"),
]
BASE = ":TRAC:SENS4:CHAN1:TYPE1:DATA"
TF_TRACE = [
    (f"{BASE}:LENG?", "3"), (f"{BASE}:STAR?", "1.52E-6"), (f"{BASE}:SAMP?", "1.0E-12"),
    (f"{BASE}? BIN,DB", ieee_block(np.array([-1.0, -2.0, -3.0], ">f4").tobytes())),
]


class FakeClock:
    """Monotonic time that only moves when the driver sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def make_panel(qtbot: Any, link: FakeLink, clock: FakeClock) -> tuple[SweepPanel, TraceStore]:
    store = TraceStore()
    panel = SweepPanel(link, store, clock=clock)
    qtbot.addWidget(panel)
    panel.set_channels(4, [1])
    panel.set_trace_types([TraceType.TF_LIVE])
    return panel, store


def test_a_sweep_reads_its_plan_runs_busy_then_fetches_the_traces(qtbot: Any) -> None:
    clock = FakeClock()
    exchange = [NO_REFERENCE, *PLAN, (":INIT", None), OK, (COND, "4"), (COND, "4"), (COND, "0"),
                *SETTINGS, *TF_TRACE]
    with expected_protocol(exchange, clock=clock, sleep=clock.sleep) as ctp:
        link = FakeLink(ctp)
        panel, store = make_panel(qtbot, link, clock)
        link.set_state(LinkState.LIVE)  # becoming usable reads the reference state
        assert panel.reference_rows() == [("4", "1", "none", "—", "—", "—")]
        with qtbot.waitSignal(panel.sweep_finished) as finished, \
                qtbot.waitSignal(panel.traces_fetched) as fetched:
            panel.start_button.click()
    assert finished.args == ["completed", "Sweep completed in 0.2 s."]
    sweep = next(r for r in link.requests if r.label == "Sweeping")
    assert sweep.busy and sweep.timeout_s == pytest.approx(deadline_s(3.0))
    fetch = next(r for r in link.requests if r.label == "Fetching traces")
    assert fetch.busy and fetch.timeout_s == pytest.approx(30.0)
    (trace,) = fetched.args[0]
    assert fetched.args[1] == "" and [t.key for t in store] == [trace.key]
    np.testing.assert_allclose(trace.values, [-1.0, -2.0, -3.0])
    assert trace.metadata["settings"]["start_nm"] == pytest.approx(1520.0)
    assert panel.result_label.text() == (
        "Sweep completed in 0.2 s. Fetched 1 trace(s), 3 points.")
    assert panel.time_label.text() == "Took 0.2 s of ≈ 3.0 s expected " \
        "(40 nm at TLS 1 20 nm/s ≈ 2.0 s + 1 s stabilization)"
    assert panel.running is None and panel.start_button.isEnabled()


def test_abort_before_the_worker_starts_the_sweep_sends_nothing(qtbot: Any) -> None:
    clock = FakeClock()
    with expected_protocol([NO_REFERENCE, *PLAN], clock=clock, sleep=clock.sleep) as ctp:
        link = FakeLink()  # requests wait until the test runs them
        panel, _ = make_panel(qtbot, link, clock)
        link.set_state(LinkState.LIVE)
        panel.start_sweep()
        for request in link.pending:  # the reference read, then the plan read
            link.run(request, ctp)
        (sweep,) = link.pending
        assert sweep.label == "Sweeping" and panel.abort_button.isEnabled()
        panel.abort_button.click()
        with qtbot.waitSignal(panel.sweep_finished) as finished:
            link.run(sweep, ctp)  # no :INIT, no polling: the replay has nothing more
    assert finished.args[0] == "aborted"
    assert sweep.outcome == ["aborted"]


def test_a_sweep_stops_polling_when_the_app_shuts_the_link_down(qtbot: Any) -> None:
    clock = FakeClock()
    link = FakeLink()

    def sleep_then_shut_down(seconds: float) -> None:
        clock.sleep(seconds)
        link.is_cancelled = True  # the window closes while the scan runs

    exchange = [NO_REFERENCE, *PLAN, (":INIT", None), OK, (COND, "4"), (":ABOR", None),
                (COND, "16"), (COND, "0")]
    with expected_protocol(exchange, clock=clock, sleep=sleep_then_shut_down) as ctp:
        panel, _ = make_panel(qtbot, link, clock)
        link.set_state(LinkState.LIVE)
        panel.start_sweep()
        for request in link.pending:
            link.run(request, ctp)
        (sweep,) = link.pending
        link.run(sweep, ctp)
    assert sweep.outcome == ["aborted"]


def test_link_loss_mid_sweep_reports_failure_and_ignores_the_late_result(qtbot: Any) -> None:
    clock = FakeClock()
    with expected_protocol([NO_REFERENCE, *PLAN], clock=clock, sleep=clock.sleep) as ctp:
        link = FakeLink()
        panel, _ = make_panel(qtbot, link, clock)
        link.set_state(LinkState.LIVE)
        panel.start_sweep()
        for request in link.pending:
            link.run(request, ctp)
        (sweep,) = link.pending
        with qtbot.waitSignal(panel.sweep_finished) as finished:
            link.set_state(LinkState.RECONNECTING, reason="connection reset")
        assert finished.args == [
            "failed", "Sweep failed: link lost (connection reset). It was not restarted."]
        assert sweep.on_done is not None
        with qtbot.assertNotEmitted(panel.sweep_finished):
            sweep.on_done("completed")  # the result of a dead run arrives late
    assert panel.result_label.text().startswith("Sweep failed: link lost")


def test_references_are_taken_channel_by_channel_and_listed(qtbot: Any) -> None:
    clock = FakeClock()
    exchange = [
        (":REF:SENS4:CHAN1:RES?", "0"), (":REF:SENS4:CHAN2:RES?", "0"),  # on becoming Live
        *PLAN,
        (":REF:SENS4:CHAN1:RES?", "0"), (":REF:SENS4:CHAN2:RES?", "0"),  # nothing to replace
        (":REF:SENS4:CHAN1:INIT", None), OK, (COND, "64"), (COND, "0"),
        (":REF:SENS4:CHAN1:RES?", "1,12,20261204,041500"),
        (":REF:SENS4:CHAN2:INIT", None), OK, (COND, "64"), (COND, "0"),
        (":REF:SENS4:CHAN2:RES?", "1,12,20261204,041503"),
    ]
    with expected_protocol(exchange, clock=clock, sleep=clock.sleep) as ctp:
        link = FakeLink(ctp)
        panel, _ = make_panel(qtbot, link, clock)
        panel.set_channels(4, [1, 2])
        link.set_state(LinkState.LIVE)
        with qtbot.waitSignal(panel.references_updated) as updated:
            panel.reference_button.click()
    assert [(m, c, r.state) for m, c, r in updated.args[0]] == [(4, 1, 1), (4, 2, 1)]
    assert panel.reference_rows() == [
        ("4", "1", "taken (1)", "12", "2026-12-04", "04:15:00"),
        ("4", "2", "taken (1)", "12", "2026-12-04", "04:15:03"),
    ]
    (run,) = [r for r in link.requests if r.label == "Referencing"]
    assert run.timeout_s == pytest.approx(2 * deadline_s(3.0))
    assert panel.result_label.text() == "Reference taken on 2 channel(s) in 0.2 s."


@pytest.mark.parametrize(("tls1", "why"), [
    (check("1.502E-6", "1.51E-6"),
     "No assigned laser covers the scan 1520–1560 nm (TLS 1 1502–1510 nm): widen a TLS range "
     "or narrow the scan."),
    (check(speed="16"),
     "TLS 1 sweeps at 16 nm/s, but a T100S-HP sweeps at 5–15, 17, 18, 20, 22, 25, 29, 33, 40, "
     "50, 67, 100 nm/s only, not 16 nm/s."),
])
def test_a_sweep_the_pre_flight_refuses_is_never_started(
        qtbot: Any, tls1: list[tuple[str, str]], why: str) -> None:
    clock = FakeClock()
    with expected_protocol([NO_REFERENCE, *tls1], clock=clock, sleep=clock.sleep) as ctp:
        link = FakeLink(ctp)  # the replay ends here: an :INIT would fail the test
        panel, _ = make_panel(qtbot, link, clock)
        link.set_state(LinkState.LIVE)
        with qtbot.waitSignal(panel.sweep_finished) as finished:
            panel.start_button.click()
    assert finished.args == ["refused", f"Sweep not started: {why}"]
    assert panel.result_label.text() == f"Sweep not started: {why}"
    assert panel.result_label.property("role") == "error"
    assert [r.label for r in link.requests if r.busy] == []
    assert panel.running is None and panel.start_button.isEnabled()


def test_a_reference_the_pre_flight_refuses_is_never_started(qtbot: Any) -> None:
    clock = FakeClock()
    exchange = [NO_REFERENCE, *check("1.502E-6", "1.51E-6")]  # refused: nothing to ask
    with expected_protocol(exchange, clock=clock, sleep=clock.sleep) as ctp:
        link = FakeLink(ctp)
        panel, _ = make_panel(qtbot, link, clock)
        link.set_state(LinkState.LIVE)
        panel.reference_button.click()
    assert panel.result_label.text().startswith(
        "Reference not started: No assigned laser covers the scan 1520–1560 nm")
    assert panel.progress.format() == "reference refused"


class Question:
    """Stands in for QMessageBox.question: records what was asked, answers as told."""

    def __init__(self, answer: QMessageBox.StandardButton) -> None:
        self.answer = answer
        self.asked: list[tuple[str, str]] = []

    def __call__(self, parent: object, title: str, text: str, *_: object
                 ) -> QMessageBox.StandardButton:
        self.asked.append((title, text))
        return self.answer


TAKEN = (":REF:SENS4:CHAN1:RES?", "1,0,20261203,174512")


@pytest.mark.parametrize("answer", [QMessageBox.StandardButton.No,
                                    QMessageBox.StandardButton.Escape])
def test_an_existing_reference_is_kept_unless_the_user_says_replace(
        qtbot: Any, monkeypatch: pytest.MonkeyPatch, answer: QMessageBox.StandardButton) -> None:
    question = Question(answer)
    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    clock = FakeClock()
    with expected_protocol([TAKEN, *PLAN, TAKEN], clock=clock, sleep=clock.sleep) as ctp:
        link = FakeLink(ctp)  # the replay ends after the read: no :REF…:INIT
        panel, _ = make_panel(qtbot, link, clock)
        link.set_state(LinkState.LIVE)
        with qtbot.assertNotEmitted(panel.references_updated):  # nothing was taken
            panel.reference_button.click()
    ((title, text),) = question.asked
    assert title == "Replace the instrument's reference?"
    assert "Module 4 channel 1: reference of 2026-12-03 17:45:12" in text
    assert panel.result_label.text() == (
        "Reference not taken: the instrument keeps the existing one(s).")
    assert panel.running is None and panel.reference_button.isEnabled()
    assert panel.reference_rows() == [("4", "1", "taken (1)", "0", "2026-12-03", "17:45:12")]


def test_replacing_a_reference_goes_on_after_yes(
        qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    question = Question(QMessageBox.StandardButton.Yes)
    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    clock = FakeClock()
    exchange = [TAKEN, *PLAN, TAKEN, (":REF:SENS4:CHAN1:INIT", None), OK, (COND, "64"),
                (COND, "0"), (":REF:SENS4:CHAN1:RES?", "1,0,20261204,041500")]
    with expected_protocol(exchange, clock=clock, sleep=clock.sleep) as ctp:
        link = FakeLink(ctp)
        panel, _ = make_panel(qtbot, link, clock)
        link.set_state(LinkState.LIVE)
        panel.reference_button.click()
    assert len(question.asked) == 1
    assert panel.reference_rows() == [("4", "1", "taken (1)", "0", "2026-12-04", "04:15:00")]
    assert panel.result_label.text().startswith("Reference taken on 1 channel(s)")


def test_no_question_when_there_is_nothing_to_replace(
        qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    question = Question(QMessageBox.StandardButton.No)
    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    clock = FakeClock()
    exchange = [NO_REFERENCE, *PLAN, NO_REFERENCE, (":REF:SENS4:CHAN1:INIT", None), OK,
                (COND, "64"), (COND, "0"), (":REF:SENS4:CHAN1:RES?", "1,0,20261204,041500")]
    with expected_protocol(exchange, clock=clock, sleep=clock.sleep) as ctp:
        link = FakeLink(ctp)
        panel, _ = make_panel(qtbot, link, clock)
        link.set_state(LinkState.LIVE)
        panel.reference_button.click()
    assert question.asked == []
    assert panel.result_label.text().startswith("Reference taken on 1 channel(s)")
