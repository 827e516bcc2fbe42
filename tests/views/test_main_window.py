"""The alignment window against the real controller, worker and simulator, state by state."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from ctp10_gui.models.connection import LinkState
from ctp10_gui.models.readout import NO_DATA

Shoot = Callable[[QWidget, str], Path]
Rig = Any  # conftest.Rig: window, controller, sim, store, settings
CLOSE_BOUND_S = 3.0  # io/open timeout (1 s) + the controller's margin + a loaded machine


def _kinds(rig: Rig) -> list[str]:
    return [spec.kind for spec in rig.window.badges.specs]


def _go_live(qtbot: Any, rig: Rig) -> None:
    rig.window.connect_initial()
    qtbot.waitUntil(lambda: rig.state is LinkState.LIVE, timeout=5000)
    cards = rig.window.readouts.grid.cards
    qtbot.waitUntil(lambda: all(c.value_label.property("reading") == "live"
                                for c in cards.values()), timeout=3000)


def _age_s(text: str) -> float:
    match = re.search(r"([\d.]+) s old", text)
    assert match, f"no age in {text!r}"
    return float(match.group(1))


def _assert_closes_cleanly(qtbot: Any, rig: Rig) -> None:
    took = rig.close()
    assert took < CLOSE_BOUND_S, f"closing took {took:.2f} s"
    # The worker closed its socket: the simulator sees no client any more.
    qtbot.waitUntil(lambda: rig.sim.client_count == 0, timeout=2000)


def test_live_shows_connected_live_simulator_badges_readouts_and_chart(
        qtbot: Any, make_rig: Callable[..., Rig], shoot: Shoot) -> None:
    rig = make_rig()
    _go_live(qtbot, rig)
    assert _kinds(rig) == ["connected", "live", "simulator"]
    card = rig.window.readouts.grid.cards[1]
    assert card.value_label.text().endswith(" dBm")
    assert card.age_label.text() == ""
    # The peak is a moving average's: it shows once data covers its window (one poll later).
    qtbot.waitUntil(lambda: card.peak_label.text().startswith("peak "), timeout=2000)
    chart = rig.window.chart
    qtbot.waitUntil(lambda: chart.visible_curve_data(1)[0].size > 5, timeout=3000)
    x, _y = chart.visible_curve_data(1)
    assert -chart.window_s <= x.min() and x.max() <= 0.0
    health = rig.window.health
    qtbot.waitUntil(lambda: health.latency_label.text().endswith("ms"), timeout=2000)
    assert " of 20.0 Hz" in health.rate_label.text()
    shoot(rig.window, "state-live")
    _assert_closes_cleanly(qtbot, rig)


@pytest.mark.slow
def test_stale_greys_readouts_with_growing_age_then_reconnects_and_recovers(
        qtbot: Any, make_rig: Callable[..., Rig], shoot: Shoot) -> None:
    # Stale after 0.4 s, link declared lost only after the 2 s I/O timeout: a long stale phase.
    rig = make_rig(stale_after_s=0.4, reply_deadline_s=2.0)
    _go_live(qtbot, rig)
    rig.sim.faults.pause()
    qtbot.waitUntil(lambda: rig.state is LinkState.STALE, timeout=3000)
    card = rig.window.readouts.grid.cards[1]
    qtbot.waitUntil(lambda: card.value_label.property("reading") == "stale", timeout=1000)
    assert card.value_label.text().endswith(" dBm")  # the old number, greyed, not hidden
    first = _age_s(card.age_label.text())
    qtbot.waitUntil(lambda: _age_s(card.age_label.text()) >= first + 0.3, timeout=2000)
    spec = rig.window.badges.specs[0]
    assert spec.kind == "stale" and spec.text.startswith("Stale · ")
    assert "No reply for" in spec.tooltip
    shoot(rig.window, "state-stale")

    qtbot.waitUntil(lambda: rig.state is LinkState.RECONNECTING, timeout=4000)
    qtbot.waitUntil(lambda: "next try in" in rig.window.badges.specs[0].text, timeout=2000)
    spec = rig.window.badges.specs[0]
    assert spec.kind == "reconnecting" and re.match(r"Reconnecting \d/3 · next try in \d s",
                                                    spec.text), spec.text
    assert card.value_label.property("reading") == "stale"
    shoot(rig.window, "state-reconnecting")

    rig.sim.faults.resume()
    qtbot.waitUntil(lambda: rig.state is LinkState.LIVE, timeout=6000)
    qtbot.waitUntil(lambda: card.value_label.property("reading") == "live", timeout=2000)
    chart = rig.window.chart
    assert len(chart.outages) >= 1 and chart.outages[-1][1] is not None
    rig.window.chart.redraw()
    assert chart.visible_bands(), "the outage is not shaded"
    _x, y = chart.visible_curve_data(1)
    assert np.isnan(y).any(), "the curve is not cut at the outage"
    _assert_closes_cleanly(qtbot, rig)


@pytest.mark.slow
def test_offline_offers_retry_now_and_retry_recovers(
        qtbot: Any, make_rig: Callable[..., Rig], shoot: Shoot) -> None:
    from ctp10_gui.models.connection import BackoffPolicy

    rig = make_rig(backoff=BackoffPolicy(initial_s=0.1, factor=1.0, cap_s=0.1, jitter=0.0,
                                         max_attempts=2))
    _go_live(qtbot, rig)
    rig.sim.faults.refuse()
    rig.sim.faults.drop_connections()
    qtbot.waitUntil(lambda: rig.state is LinkState.OFFLINE, timeout=6000)
    badges = rig.window.badges
    assert _kinds(rig)[0] == "offline"
    assert "refused" in badges.specs[0].tooltip or "127.0.0.1" in badges.specs[0].tooltip
    qtbot.waitUntil(badges.retry_button.isVisible, timeout=1000)
    card = rig.window.readouts.grid.cards[2]
    qtbot.waitUntil(lambda: card.value_label.text() == NO_DATA, timeout=1000)
    assert card.age_label.text() == "offline"
    assert rig.window.retry_action.isEnabled()
    shoot(rig.window, "state-offline")

    rig.sim.faults.start_listening()
    qtbot.mouseClick(badges.retry_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: rig.state is LinkState.LIVE, timeout=5000)
    assert not badges.retry_button.isVisible()
    rig.sim.faults.refuse()
    rig.sim.faults.drop_connections()
    qtbot.waitUntil(lambda: rig.state is LinkState.OFFLINE, timeout=6000)
    _assert_closes_cleanly(qtbot, rig)  # closing while offline


def test_disconnect_greys_everything_and_closes_cleanly(
        qtbot: Any, make_rig: Callable[..., Rig], shoot: Shoot) -> None:
    rig = make_rig()
    _go_live(qtbot, rig)
    rig.window.disconnect_action.trigger()
    qtbot.waitUntil(lambda: rig.state is LinkState.DISCONNECTED, timeout=3000)
    assert _kinds(rig) == ["disconnected"]
    cards = rig.window.readouts.grid.cards
    qtbot.waitUntil(lambda: all(c.value_label.text() == NO_DATA for c in cards.values()),
                    timeout=1000)
    assert cards[1].age_label.text() == "disconnected"
    assert not rig.window.disconnect_action.isEnabled()
    shoot(rig.window, "state-disconnected")
    _assert_closes_cleanly(qtbot, rig)


@pytest.mark.slow
def test_window_closes_cleanly_while_reconnecting_and_while_stale(
        qtbot: Any, make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
    _go_live(qtbot, rig)
    rig.sim.faults.refuse()
    rig.sim.faults.drop_connections()
    qtbot.waitUntil(lambda: rig.state is LinkState.RECONNECTING, timeout=4000)
    _assert_closes_cleanly(qtbot, rig)
    rig.sim.faults.start_listening()

    rig2 = make_rig(sim=rig.sim, settings_path=rig.store.path.with_name("s2.json"))
    _go_live(qtbot, rig2)
    rig2.sim.faults.pause()
    qtbot.waitUntil(lambda: rig2.state is LinkState.STALE, timeout=3000)
    took = rig2.close()  # the worker sits in a blocked read: bounded by the I/O timeout
    assert took < CLOSE_BOUND_S, f"closing while stale took {took:.2f} s"
    rig2.sim.faults.resume()


def test_under_over_range_and_a_failing_channel_are_marked(
        qtbot: Any, make_rig: Callable[..., Rig], shoot: Shoot) -> None:
    rig = make_rig()
    _go_live(qtbot, rig)
    rig.sim.instrument.set_level_dbm(4, 3, -120.0)
    rig.sim.instrument.set_level_dbm(4, 4, 15.0)
    rig.sim.faults.fail_channel(4, 2)
    cards = rig.window.readouts.grid.cards
    qtbot.waitUntil(lambda: cards[3].value_label.text().startswith("< −80"), timeout=3000)
    qtbot.waitUntil(lambda: cards[4].value_label.text().startswith("≥ 10"), timeout=3000)
    qtbot.waitUntil(lambda: cards[2].error_label.isVisible(), timeout=3000)
    assert cards[3].value_label.property("reading") == "range"
    assert cards[2].value_label.property("reading") == "error"
    assert not cards[1].error_label.isVisible()
    assert cards[1].value_label.property("reading") == "live"  # the others keep flowing
    shoot(rig.window, "state-range-and-error")


def test_units_toggle_goes_through_the_instrument_and_back(
        qtbot: Any, make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
    _go_live(qtbot, rig)
    card = rig.window.readouts.grid.cards[1]
    qtbot.mouseClick(rig.window.readouts.unit_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: rig.window.hub.unit == "mW", timeout=3000)
    qtbot.waitUntil(lambda: card.value_label.text().endswith("W")
                    and not card.value_label.text().endswith("dBm"), timeout=2000)
    assert rig.window.live_controls.unit_combo.currentText() == "mW"
    # Read back from the simulated detector itself.
    unit = rig.sim.instrument.handle(":CTP:SENS4:CHAN1:UNIT:Y?")
    assert unit in ("1", "MW")
    # Back with the keyboard: Ctrl+M, as someone wearing goggles at the bench would.
    rig.window.activateWindow()
    qtbot.waitUntil(rig.window.isActiveWindow, timeout=2000)
    qtbot.keyClick(rig.window, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: card.value_label.text().endswith(" dBm"), timeout=3000)


def test_peak_hold_delta_and_reset(qtbot: Any, make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
    _go_live(qtbot, rig)
    rig.sim.instrument.set_level_dbm(4, 3, -5.0)
    card = rig.window.readouts.grid.cards[3]
    qtbot.waitUntil(lambda: card.value_label.text() == "−5.00 dBm", timeout=3000)
    # The peak is that of a 50 ms average: −5 dBm must last that long to be the peak.
    qtbot.waitUntil(lambda: card.peak_label.text().startswith("peak −5.00 dBm at "),
                    timeout=2000)
    rig.sim.instrument.set_level_dbm(4, 3, -8.0)
    qtbot.waitUntil(lambda: card.value_label.text() == "−8.00 dBm", timeout=3000)
    assert card.peak_label.text().startswith("peak −5.00 dBm at ")
    assert card.delta_label.text() == "Δ to peak −3.00 dB"
    qtbot.mouseClick(card.reset_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: card.peak_label.text().startswith("peak −8.00 dBm"), timeout=2000)
    assert card.delta_label.text() == "Δ to peak 0.00 dB"


def test_relative_mode_persists_across_a_new_window(
        qtbot: Any, make_rig: Callable[..., Rig], shoot: Shoot) -> None:
    rig = make_rig()
    _go_live(qtbot, rig)
    rig.sim.instrument.set_level_dbm(4, 3, -6.0)
    card = rig.window.readouts.grid.cards[3]
    qtbot.waitUntil(lambda: card.value_label.text() == "−6.00 dBm", timeout=3000)
    qtbot.waitUntil(lambda: rig.window.hub.key(3) is not None, timeout=3000)  # serial + λ read
    qtbot.mouseClick(card.ref_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: card.value_label.text() == "0.00 dB", timeout=2000)
    assert card.note_label.text() == "relative to −6.00 dBm"
    chart = rig.window.chart  # channel 3 is drawn in dB around 0 now
    qtbot.waitUntil(lambda: abs(chart.visible_curve_data(3)[1][-1]) < 0.01, timeout=2000)
    rig.sim.instrument.set_level_dbm(4, 3, -4.5)
    qtbot.waitUntil(lambda: card.value_label.text() == "+1.50 dB", timeout=3000)
    shoot(rig.window, "relative-mode")
    rig.close()
    stored = json.loads(rig.store.path.read_text())["references"]
    assert list(stored) == ["CTP10-SIM-0001/M4/C3/1550.000nm"]
    assert stored["CTP10-SIM-0001/M4/C3/1550.000nm"] == pytest.approx(-6.0, abs=1e-3)

    again = make_rig(sim=rig.sim, settings_path=rig.store.path)
    _go_live(qtbot, again)
    card2 = again.window.readouts.grid.cards[3]
    qtbot.waitUntil(lambda: card2.value_label.text() == "+1.50 dB", timeout=4000)
    assert card2.ref_button.text() == "Clear ref"
    qtbot.mouseClick(card2.ref_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: card2.value_label.text() == "−4.50 dBm", timeout=2000)
    again.close()
    assert json.loads(again.store.path.read_text())["references"] == {}


def test_big_numbers_mode_is_fullscreen_and_leaves_with_escape(
        qtbot: Any, make_rig: Callable[..., Rig], shoot: Shoot) -> None:
    rig = make_rig()
    _go_live(qtbot, rig)
    rig.window.big_action.trigger()
    big = rig.window.big_numbers
    assert big is not None
    qtbot.waitExposed(big)
    assert big.isFullScreen()
    qtbot.waitUntil(lambda: all(c.value_label.text().endswith("dBm")
                                for c in big.grid.cards.values()), timeout=2000)
    # The numbers use the screen: 4 cards on the 800 px offscreen screen, one column.
    screen_h = big.screen().geometry().height()
    assert big.height() <= screen_h
    value = big.grid.cards[1].value_label
    qtbot.waitUntil(lambda: value.font().pixelSize() >= 0.055 * screen_h, timeout=2000)
    assert [s.kind for s in big.badges.specs] == ["connected", "live", "simulator"]
    shoot(big, "big-numbers")
    qtbot.keyClick(big, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not big.isVisible(), timeout=1000)
    assert not rig.window.big_action.isChecked()


def test_controls_change_module_and_channels_through_the_worker(
        qtbot: Any, make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
    _go_live(qtbot, rig)
    controls = rig.window.live_controls
    controls.select_module(1)
    controls.channel_boxes[4].setChecked(False)
    qtbot.waitUntil(lambda: rig.window.chart.channels == (1, 2, 3), timeout=3000)
    assert "module 1, channels 1, 2, 3" in controls.acquiring_label.text()
    qtbot.waitUntil(lambda: tuple(rig.window.readouts.grid.cards) == (1, 2, 3), timeout=2000)
    controls.wavelength_spin.setValue(1310.0)
    qtbot.mouseClick(controls.wavelength_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: controls.wavelength_label.text() == "1310.000 nm", timeout=3000)
    reply = rig.sim.instrument.handle(":CTP:SENS1:CHAN2:WAV?")
    assert float(reply) == 1.31e-6


def test_a_different_instrument_unticks_live_and_ticking_it_resumes(
        qtbot: Any, make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
    _go_live(qtbot, rig)
    controls = rig.window.live_controls
    assert controls.live_box.isChecked()
    rig.sim.faults.set_serial("OTHER-0002", restart=True)
    qtbot.waitUntil(lambda: rig.state is LinkState.CONNECTED, timeout=8000)
    # The box shows what the link does: live is off until the user says otherwise.
    assert not controls.live_box.isChecked()
    assert controls.acquiring_label.text() == "nothing: live acquisition is off"
    controls.live_box.setChecked(True)
    qtbot.waitUntil(lambda: rig.state is LinkState.LIVE, timeout=5000)
    _assert_closes_cleanly(qtbot, rig)


def test_window_fits_a_1024_by_700_laptop_screen(make_rig: Callable[..., Rig]) -> None:
    window = make_rig().window
    hint = window.minimumSizeHint()
    assert hint.width() <= 1024 and hint.height() <= 700, hint


def _where_texts(rig: Rig) -> list[str]:
    """Return every text the window shows about where it is connected (bar, title, badges)."""
    w = rig.window
    return [w.address_label.text(), w.windowTitle(),
            *(f"{s.text} {s.tooltip}" for s in w.badges.specs)]


def _reset_events(rig: Rig) -> list[str]:
    events = rig.window.recording.flight_recorder.extract().events
    return [text for _t, kind, text in events if kind == "readouts_reset"]


def test_connecting_elsewhere_shows_nothing_of_the_previous_instrument(
        qtbot: Any, make_rig: Callable[..., Rig], shoot: Shoot) -> None:
    rig = make_rig()
    _go_live(qtbot, rig)
    window = rig.window
    card = window.readouts.grid.cards[1]
    qtbot.waitUntil(lambda: card.peak_label.text().startswith("peak "), timeout=3000)
    assert window.address_label.text().endswith("· EXFO CTP10 SN CTP10-SIM-0001")
    assert "CTP10-SIM-0001" in window.windowTitle()

    shown: list[str] = []  # what was on screen after every state change from here on
    rig.controller.state_changed.connect(lambda _status: shown.extend(_where_texts(rig)))
    window.connect_address("127.0.0.1:1")
    assert window.address_label.text() == "connecting to TCPIP::127.0.0.1::1::SOCKET…"
    assert window.windowTitle() == "CTP10 Live Power — connecting to TCPIP::127.0.0.1::1::SOCKET…"
    assert window.identity is None
    # Refused: the link retries that address; the old instrument stays out of every text.
    qtbot.waitUntil(lambda: rig.state in (LinkState.RECONNECTING, LinkState.OFFLINE),
                    timeout=5000)
    shown.extend(_where_texts(rig))
    assert shown and not [t for t in shown if "CTP10-SIM-0001" in t or "EXFO" in t], shown
    assert window.address_label.text() == "TCPIP::127.0.0.1::1::SOCKET"
    assert "simulator" not in _kinds(rig)
    # Nor its numbers: no greyed value, peak or Δ of the instrument left behind.
    for c in window.readouts.grid.cards.values():
        assert c.value_label.text() == NO_DATA
        assert c.peak_label.text() == "" and c.delta_label.text() == ""
    why = "connected to another address (TCPIP::127.0.0.1::1::SOCKET)"
    assert why in window.notice_label.text() and window.notice_label.isVisible()
    assert _reset_events(rig) == [f"Peaks, Δ to peak and ages reset: {why}."]
    shoot(window, "connecting-elsewhere")

    window.connect_simulator()  # back to the simulator: its identity once it answered again
    qtbot.waitUntil(lambda: rig.state is LinkState.LIVE, timeout=5000)
    qtbot.waitUntil(lambda: "SN CTP10-SIM-0001" in window.address_label.text(), timeout=2000)
    assert window.address_label.text().startswith("built-in simulator · ")


def test_a_different_instrument_or_module_resets_peaks_with_an_event(
        qtbot: Any, make_rig: Callable[..., Rig], tmp_path: Path) -> None:
    rig = make_rig()
    _go_live(qtbot, rig)
    window = rig.window
    card = window.readouts.grid.cards[1]
    qtbot.waitUntil(lambda: card.peak_label.text().startswith("peak "), timeout=3000)
    rig.sim.faults.set_serial("OTHER-0002", restart=True)
    qtbot.waitUntil(lambda: rig.state is LinkState.CONNECTED, timeout=8000)
    why = "a different instrument answers (serial OTHER-0002, was CTP10-SIM-0001)"
    qtbot.waitUntil(lambda: why in window.notice_label.text(), timeout=2000)
    assert card.peak_label.text() == "" and card.delta_label.text() == ""
    assert window.address_label.text().endswith("SN OTHER-0002")
    window.live_controls.live_box.setChecked(True)  # the user accepts the new instrument
    qtbot.waitUntil(lambda: card.peak_label.text().startswith("peak "), timeout=5000)
    assert _reset_events(rig) == [f"Peaks, Δ to peak and ages reset: {why}."]

    assert window.recording.start_recording(tmp_path / "rec")
    window.live_controls.select_module(1)
    qtbot.waitUntil(lambda: "module 4 → 1" in window.notice_label.text(), timeout=3000)
    assert _reset_events(rig)[-1] == "Peaks, Δ to peak and ages reset: module 4 → 1."
    assert "OTHER-0002" in window.windowTitle()  # same instrument: its name stays
    status = window.recording.stop_recording()
    events = []
    for file in status.files:  # another module's layout starts a new part file
        with open(file, newline="", encoding="utf-8") as f:
            events += [row[-1] for row in csv.reader(f) if row[-1].startswith("readouts_reset")]
    assert events == ["readouts_reset: Peaks, Δ to peak and ages reset: module 4 → 1."]


def test_theme_switch_reaches_every_plot_through_one_signal(
        qtbot: Any, make_rig: Callable[..., Rig]) -> None:
    from ctp10_gui.views.theme import DARK, LIGHT

    window = make_rig().window
    plots = {"chart": window.chart.plot, "traces": window.trace_view.plot}
    for name, plot in plots.items():
        assert plot.backgroundBrush().color().name() == DARK.background, name
    received: list[str] = []
    window.theme_changed.connect(lambda theme: received.append(theme.name))
    window.apply_theme("light")
    assert received == ["light"]
    for name, plot in plots.items():
        assert plot.backgroundBrush().color().name() == LIGHT.background, name
