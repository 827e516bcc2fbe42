"""The live strip above the Instrument tab and the LASER ON light from the laser form."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QWidget

from ctp10_gui.models.connection import LinkState
from tests.views.conftest import Rig


def test_the_focused_power_stays_in_sight_on_the_instrument_tab(
        qtbot: Any, make_rig: Callable[..., Rig], shoot: Callable[[QWidget, str], Path]) -> None:
    rig = make_rig()
    window = rig.window
    assert not window.live_strip.isVisible()  # the Live tab shows the power itself
    window.connect_initial()
    qtbot.waitUntil(lambda: rig.state is LinkState.LIVE, timeout=5000)
    window.alignment.focus.set_focus(["CH3", "CH4"])
    rig.sim.instrument.set_level_dbm(4, 3, -7.25)
    window.tabs.setCurrentWidget(window.instrument)
    assert window.live_strip.isVisible()
    label = window.live_strip.labels["CH3"]
    qtbot.waitUntil(lambda: label.text().startswith("CH3 · TLS IN  −7.25 dBm  Δ "),
                    timeout=3000)
    assert list(window.live_strip.labels) == ["CH3", "CH4"]
    assert label.fits()
    window.resize(1024, 700)
    qtbot.waitUntil(lambda: window.width() == 1024, timeout=2000)
    window.live_strip.refresh()
    assert all(lbl.fits() for lbl in window.live_strip.labels.values())
    shoot(window, "live-strip-instrument-1024x700")
    window.tabs.setCurrentIndex(0)
    assert not window.live_strip.isVisible()


def test_the_laser_light_follows_the_last_read_output_and_says_it_is_not_polled(
        qtbot: Any, make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(sim_options={"speedup": 4.0})  # a laser switches on in 0.5 s
    window = rig.window
    light = window.live_strip.laser
    assert light.text() == "○ laser ?"
    window.connect_initial()
    qtbot.waitUntil(lambda: rig.state is LinkState.LIVE, timeout=5000)
    window.tabs.setCurrentWidget(window.instrument)
    window.instrument.tabs.setCurrentWidget(window.instrument.rlaser_page)
    window.instrument.refresh()
    qtbot.waitUntil(lambda: light.text() == "○ lasers off", timeout=3000)  # laser 1 read Off
    window.instrument.rlaser_form.submit("output", "On")
    qtbot.waitUntil(lambda: light.text() == "● LASER ON", timeout=6000)
    assert light.isVisible()
    assert "not polled" in light.toolTip() and "laser 1 on" in light.toolTip()
    rig.controller.disconnect_link()
    qtbot.waitUntil(lambda: light.text() == "○ laser ?", timeout=2000)
