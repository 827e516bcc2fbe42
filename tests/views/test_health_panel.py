"""Link-health panel: latency, achieved vs requested rate, uptime, history, instrument errors."""

from __future__ import annotations

from typing import Any

from fake_link import FakeLink

from ctp10_gui.models.connection import LinkHealth
from ctp10_gui.views.health_panel import HealthPanel, format_rate, format_uptime


def test_health_is_shown_with_history_and_errors(qtbot: Any) -> None:
    controller = FakeLink()
    panel = HealthPanel(controller)
    qtbot.addWidget(panel)
    controller.health_changed.emit(LinkHealth(
        0.0009, 0.0013, 19.8, 20.0, 2, 3725.0, 1,
        [(1_700_000_000.0, "disconnect: connection closed by 127.0.0.1:5025"),
         (1_700_000_002.0, "reconnect: EXFO CTP10 serial SIM-1")],
        ['-222 "Data out of range" after ":CTP:SENS4:CHAN1:WAV 1700NM"']))
    assert panel.latency_label.text() == "0.9 ms / 1.3 ms"
    assert panel.rate_label.text() == "19.8 of 20.0 Hz (99 %)"
    assert panel.uptime_label.text() == "1 h 02 min"
    assert panel.reconnects_label.text() == "1"
    assert panel.history_list.item(0).text().endswith("reconnect: EXFO CTP10 serial SIM-1")
    assert "connection closed by 127.0.0.1:5025" in panel.history_list.item(1).text()
    assert panel.error_list.count() == 1
    controller.instrument_error.emit("module 4 channel 2: garbled reply 'x#@!'")
    assert panel.error_list.item(0).text().endswith("garbled reply 'x#@!'")


def test_formats() -> None:
    assert format_uptime(42.4) == "42 s" and format_uptime(725) == "12 min 05 s"
    assert format_rate(0.0, 0.0) == "0.0 Hz (live off)"
    assert format_rate(950.0, float("inf")) == "950.0 Hz (as fast as possible)"
