"""Badge texts, colours and reasons per link state, and the ticking countdown/age."""

from __future__ import annotations

from typing import Any

import pytest
from fake_link import FakeLink

from ctp10_gui.models.connection import LinkState, LinkStatus
from ctp10_gui.views.status_badges import StatusBadges, badge_specs

ADDR = "TCPIP::192.168.1.37::5025::SOCKET"


def _status(state: LinkState, **kw: Any) -> LinkStatus:
    base: dict[str, Any] = {"attempt": 0, "max_attempts": 10, "reason": "",
                            "next_attempt_at": None, "since": 100.0, "address": ADDR}
    base.update(kw)
    return LinkStatus(state, **base)


def _specs(status: LinkStatus, now: float = 101.0, last: float | None = 99.8,
           simulator: bool = False) -> list[tuple[str, str]]:
    return [(s.kind, s.text) for s in badge_specs(status, now, last, address=None,
                                                  simulator=simulator)]


@pytest.mark.parametrize(("state", "expected"), [
    (LinkState.LIVE, [("connected", "Connected"), ("live", "Live Data")]),
    (LinkState.CONNECTED, [("connected", "Connected"), ("paused", "Live off")]),
    (LinkState.BUSY, [("connected", "Connected"), ("busy", "Busy")]),
    (LinkState.DISCONNECTED, [("disconnected", "Disconnected")]),
    (LinkState.CONNECTING, [("connecting", "Connecting…")]),
    (LinkState.OFFLINE, [("offline", "Offline")]),
])
def test_each_state_has_its_badge(state: LinkState, expected: list[tuple[str, str]]) -> None:
    assert _specs(_status(state)) == expected


def test_busy_badge_names_the_operation_so_it_is_not_taken_for_a_dead_link() -> None:
    (_, busy) = badge_specs(_status(LinkState.BUSY, reason="Sweeping"), 101.0, 99.8,
                            address=None, simulator=False)
    assert (busy.kind, busy.text) == ("busy", "Sweeping")
    assert "not a dead link" in busy.tooltip


def test_a_scan_started_elsewhere_says_so_and_that_live_resumes() -> None:
    status = _status(LinkState.BUSY, reason="sweep started elsewhere", busy_elsewhere=True)
    (_, busy) = badge_specs(status, 101.0, 99.8, address=None, simulator=False)
    assert (busy.kind, busy.text) == ("busy", "Busy: sweep started elsewhere")
    assert "did not start" in busy.tooltip and "resumes by itself" in busy.tooltip


def test_a_different_instrument_is_shown_with_its_reason() -> None:
    warning = "a different instrument answers at 10.0.0.5:5025: serial B (was A)"
    status = _status(LinkState.CONNECTED, reason=warning, warning=warning, live=False)
    specs = badge_specs(status, 101.0, 99.8, address=None, simulator=False)
    assert [(s.kind, s.text) for s in specs] == [
        ("connected", "Connected"), ("stale", "Different instrument"), ("paused", "Live off")]
    assert specs[1].tooltip.startswith(warning)
    assert "Nothing was re-applied" in specs[1].tooltip


def test_stale_shows_the_age_of_the_last_data_and_why() -> None:
    status = _status(LinkState.STALE, reason="no reply for 1.0 s")
    (spec,) = badge_specs(status, 101.0, 99.8, address=None, simulator=False)
    assert (spec.kind, spec.text) == ("stale", "Stale · 1.2 s")
    assert spec.tooltip == f"No reply for 1.2 s from {ADDR} (no reply for 1.0 s)"
    later = badge_specs(status, 135.0, 99.8, address=None, simulator=False)[0]
    assert later.text == "Stale · 35 s"


def test_stale_says_how_long_the_session_is_kept() -> None:
    status = _status(LinkState.STALE, reason="no reply for 1.0 s")
    (spec,) = badge_specs(status, 101.0, 99.8, address=None, simulator=False,
                          reply_deadline_s=5.0)
    assert spec.tooltip == (f"No reply for 1.2 s from {ADDR} (no reply for 1.0 s). The session "
                            "is kept: it reconnects only if nothing answers within 5 s of the "
                            "last reply")


def test_reconnecting_counts_attempts_and_down_to_the_next_try() -> None:
    status = _status(LinkState.RECONNECTING, attempt=2, max_attempts=10,
                     reason="connection refused by 192.168.1.37:5025", next_attempt_at=104.2)
    spec = badge_specs(status, 101.0, None, address=None, simulator=False)[0]
    assert spec.text == "Reconnecting 2/10 · next try in 4 s"
    assert "connection refused by 192.168.1.37:5025" in spec.tooltip
    spec = badge_specs(status, 104.3, None, address=None, simulator=False)[0]
    assert spec.text == "Reconnecting 2/10 · trying now…"


def test_simulator_badge_only_while_on_the_simulator() -> None:
    assert _specs(_status(LinkState.LIVE), simulator=True)[-1] == ("simulator", "Simulator")
    assert _specs(_status(LinkState.DISCONNECTED), simulator=True) == [
        ("disconnected", "Disconnected")]


def test_widget_ticks_the_countdown_and_shows_retry_when_offline(qtbot: Any) -> None:
    clock = [100.0]
    controller = FakeLink(address=ADDR)
    badges = StatusBadges(controller, clock=lambda: clock[0])
    qtbot.addWidget(badges)
    badges.show()
    controller.state_changed.emit(_status(LinkState.RECONNECTING, attempt=1, max_attempts=3,
                                          next_attempt_at=103.0))
    label = badges._labels[0]
    assert label.text() == "Reconnecting 1/3 · next try in 3 s"
    assert label.property("badge") == "reconnecting"
    clock[0] = 101.5
    qtbot.waitUntil(lambda: label.text().endswith("next try in 2 s"), timeout=1000)
    assert not badges.retry_button.isVisible()
    controller.state_changed.emit(_status(LinkState.OFFLINE, reason="refused"))
    assert badges.retry_button.isVisible()
    with qtbot.waitSignal(badges.retry_requested, timeout=500):
        badges.retry_button.click()


def test_live_data_appears_only_with_data() -> None:
    status = _status(LinkState.LIVE, awaiting_reply=True)
    assert _specs(status) == [("connected", "Connected"), ("connecting", "Waiting for data…")]


def test_offline_counts_down_to_the_slow_retry() -> None:
    status = _status(LinkState.OFFLINE, next_attempt_at=101.0 + 42.3,
                     reason="10 attempts failed (no reply); trying again every 60 s")
    (spec,) = badge_specs(status, 101.0, 99.8, address=None, simulator=False)
    assert spec.text == "Offline · next try in 42 s"
    assert "trying again every 60 s" in spec.tooltip


def test_offline_says_why_in_a_sentence_with_retry_and_edit_address(qtbot) -> None:
    controller = FakeLink(address=ADDR)
    badges = StatusBadges(controller, clock=lambda: 101.0)
    qtbot.addWidget(badges)
    badges.resize(1000, 40)
    badges.show()
    sentence = ("Connection refused at 127.0.0.1:1 — is the CTP10 on, and SCPI enabled on "
                "port 1?")
    controller.state_changed.emit(_status(LinkState.OFFLINE, reason=sentence))
    assert badges.offline_message.isVisible() and badges.offline_message.text() == sentence
    assert badges.retry_button.isVisible() and badges.edit_address_button.isVisible()
    with qtbot.waitSignal(badges.edit_address_requested, timeout=1000):
        badges.edit_address_button.click()
    controller.state_changed.emit(_status(LinkState.LIVE))
    assert not badges.offline_message.isVisible()
    assert not badges.edit_address_button.isVisible()
