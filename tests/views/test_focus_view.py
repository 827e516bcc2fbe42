"""Alignment mode on the simulator: focus view, label fit at three sizes, settled light, memory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSize
from PySide6.QtWidgets import QApplication, QWidget

from ctp10_gui.models.connection import LinkState
from ctp10_gui.views.focus_view import FocusPanel, format_since
from tests.views.conftest import Rig

Shoot = Callable[[QWidget, str], Path]
SIZES = (QSize(1024, 700), QSize(1280, 720), QSize(1920, 1080))


def _go_focus(qtbot: Any, rig: Rig) -> FocusPanel:
    rig.window.connect_initial()
    qtbot.waitUntil(lambda: rig.state is LinkState.LIVE, timeout=5000)
    rig.window.alignment.action.trigger()  # what F9 does
    panel = rig.window.alignment.focus
    assert rig.window.alignment.stack.currentWidget() is panel
    qtbot.waitUntil(lambda: panel.tiles[panel.focus[0]].value_label.text().endswith(" dBm"),
                    timeout=3000)
    return panel


def _assert_every_text_fits(panel: FocusPanel, where: str) -> None:
    for label in panel.labels():
        fm = label.fontMetrics()
        box = label.contentsRect()
        assert fm.horizontalAdvance(label.text()) <= box.width(), (where, label.text(), box)
        assert fm.height() <= box.height(), (where, label.text(), box)


def _at_each_size(qtbot: Any, rig: Rig, panel: FocusPanel, state: str, shoot: Shoot) -> None:
    for size in SIZES:
        rig.window.resize(size)
        qtbot.waitUntil(lambda s=size: rig.window.size() == s, timeout=2000)
        QApplication.processEvents()
        panel.refresh()
        QApplication.processEvents()
        _assert_every_text_fits(panel, f"{state} at {size.width()}×{size.height()}")
        shoot(rig.window, f"focus-{state}-{size.width()}x{size.height()}")


def test_two_focused_channels_fit_at_three_sizes_live_stale_and_disconnected(
        qtbot: Any, make_rig: Callable[..., Rig], shoot: Shoot) -> None:
    rig = make_rig(stale_after_s=0.4, reply_deadline_s=2.0)
    panel = _go_focus(qtbot, rig)
    panel.set_focus(["CH3", "CH4"])
    assert list(panel.tiles) == ["CH3", "CH4"] and list(panel.others) == ["CH1", "CH2"]
    rig.sim.instrument.set_level_dbm(4, 3, -3.12)
    tile = panel.tiles["CH3"]
    qtbot.waitUntil(lambda: tile.value_label.text() == "−3.12 dBm", timeout=3000)
    qtbot.waitUntil(lambda: tile.peak_label.text().startswith("peak −3.12 dBm · "), timeout=2000)
    assert tile.delta_label.text() == "Δ 0.00 dB"
    assert panel.others["CH1"].text().startswith("CH1 · IN1  ")
    _at_each_size(qtbot, rig, panel, "live", shoot)

    rig.sim.faults.pause()
    qtbot.waitUntil(lambda: tile.value_label.property("reading") == "stale", timeout=2000)
    assert tile.delta_label.text() == "Δ —"  # no Δ on a value that is not live
    assert tile.settled_label.text() == "○ not live"
    assert tile.state_label.text().endswith(" s old")
    _at_each_size(qtbot, rig, panel, "stale", shoot)
    rig.sim.faults.resume()

    rig.controller.disconnect_link()
    qtbot.waitUntil(lambda: tile.value_label.text() == "— —", timeout=3000)
    assert tile.state_label.text() == "disconnected"
    _at_each_size(qtbot, rig, panel, "disconnected", shoot)


def test_the_settled_light_comes_on_at_its_level_and_goes_off_when_the_power_moves(
        qtbot: Any, make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
    panel = _go_focus(qtbot, rig)
    panel.set_settling(0.5, 0.02)  # a short window keeps the test short
    panel.set_focus(["CH3"])
    rig.sim.instrument.set_level_dbm(4, 3, -4.5)
    tile = panel.tiles["CH3"]
    qtbot.waitUntil(lambda: tile.settled_label.text() == "● settled at −4.50 dBm", timeout=4000)
    assert tile.settled_label.property("role") == "ok"
    rig.sim.instrument.set_level_dbm(4, 3, -6.0)
    qtbot.waitUntil(lambda: tile.settled_label.text().startswith("○ moving "), timeout=2000)
    assert tile.delta_label.text() == "Δ −1.50 dB"
    assert tile.needle.span_db == 2.0  # |Δ| 1.5 dB fits ±2 dB, not ±0.1


def test_alignment_mode_focus_and_settling_are_remembered(
        qtbot: Any, make_rig: Callable[..., Rig], tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    rig = make_rig(settings_path=path)
    panel = _go_focus(qtbot, rig)
    panel.pickers[1].setCurrentIndex(panel.pickers[1].findData("CH2"))
    panel.pickers[1].activated.emit(panel.pickers[1].currentIndex())
    assert panel.focus == ["CH1", "CH2"]
    panel.settle_window.setValue(3.0)
    panel.settle_window.editingFinished.emit()
    rig.close()
    again = make_rig(settings_path=path).window
    assert again.alignment.action.isChecked()
    assert again.alignment.stack.currentWidget() is again.alignment.focus
    assert again.alignment.focus.focus == ["CH1", "CH2"]
    assert again.alignment.focus.settle_window.value() == 3.0


@pytest.mark.parametrize(("seconds", "text"), [
    (0.2, "just now"), (12.7, "12 s ago"), (150.0, "2 min ago"), (8000.0, "2 h ago"),
    (None, ""),
])
def test_format_since(seconds: float | None, text: str) -> None:
    assert format_since(seconds) == text


def test_the_peak_average_is_settable_restarts_the_peaks_and_is_kept(
        qtbot: Any, make_rig: Callable[..., Rig], tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    rig = make_rig(settings_path=path)
    _go_focus(qtbot, rig)
    alignment = rig.window.alignment
    alignment.peak_average.setValue(200)
    alignment.peak_average.editingFinished.emit()
    assert rig.window.readout_model.peak_average_s == 0.2
    assert rig.window.readout_model.reading(1).peak_t_wall is None  # the peaks restarted
    rig.close()
    again = make_rig(settings_path=path).window
    assert again.readout_model.peak_average_s == 0.2
    assert again.alignment.peak_average.value() == 200
