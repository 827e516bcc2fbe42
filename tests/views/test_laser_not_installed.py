"""An empty reference-laser position shows as not installed, with no active controls."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ctp10_gui.link.controller import LinkController
from ctp10_gui.models.connection import AcquisitionSettings, BackoffPolicy, LinkState
from ctp10_gui.simulator import SimulatorServer
from ctp10_gui.views.instrument_panels import InstrumentPanel

FAST_BACKOFF = BackoffPolicy(initial_s=0.1, factor=2.0, cap_s=0.4, jitter=0.2, max_attempts=50)
SCPI_LOGGER = "ctp10_gui.scpi"


@pytest.fixture
def panel_on(qtbot: Any) -> Iterator[Callable[[SimulatorServer], InstrumentPanel]]:
    """Return panel_on(sim) -> an InstrumentPanel on a Live link to sim (shut down after)."""
    controllers: list[LinkController] = []

    def make(sim: SimulatorServer) -> InstrumentPanel:
        controller = LinkController(AcquisitionSettings(interval_s=0.05, backoff=FAST_BACKOFF))
        controllers.append(controller)
        controller.connect_to(sim.address)
        qtbot.waitUntil(lambda: controller.status.state is LinkState.LIVE, timeout=5000)
        panel = InstrumentPanel(controller)
        qtbot.addWidget(panel)
        panel.show()
        wavelength = panel.rlaser_form.fields["wavelength_nm"]
        qtbot.waitUntil(lambda: wavelength.readback.text() == "1550.000 nm", timeout=5000)
        return panel

    yield make
    for controller in controllers:
        controller.shutdown()


@pytest.mark.parametrize("variant", ["values", "silent", "error"])
def test_an_empty_laser_position_is_not_installed_and_has_no_active_controls(
    qtbot: Any, sim_factory: Callable[..., SimulatorServer], panel_on: Callable,
    caplog: pytest.LogCaptureFixture, variant: str,
) -> None:
    sim = sim_factory(empty_laser=variant)
    panel = panel_on(sim)
    form = panel.rlaser_form
    caplog.set_level(logging.DEBUG, logger=SCPI_LOGGER)
    panel.rlaser_select.setCurrentIndex(4)  # laser 5: an empty position in the simulator
    qtbot.waitUntil(lambda: panel.rlaser_page.info.text() == "Laser 5: not installed ('NONE').")
    for field in form.fields.values():
        assert not field.set_button.isEnabled(), field.name
        assert field.edit is None or not field.edit.isEnabled(), field.name
        assert field.combo is None or not field.combo.isEnabled(), field.name
        assert field.readback.text() == "—" and field.value_text() == ""  # nothing of laser 1
        assert field.set_button.toolTip() == (
            "Not available: laser 5 is not installed (the instrument reports 'NONE')")
    form.submit("power_dbm", "3")
    assert form.fields["power_dbm"].message.text().startswith(
        "Not sent: laser 5 is not installed")
    # Only its identity was asked: no setting of the empty position, so no silence to wait for.
    asked = [r.getMessage()[3:] for r in caplog.records
             if r.name == SCPI_LOGGER and r.getMessage().startswith("-> :CTP:RLAS5")]
    assert asked == [":CTP:RLAS5:IDN?"]
    panel.reload_button.click()  # Read all asks the identity again and keeps the controls off
    qtbot.waitUntil(lambda: len([r for r in caplog.records
                                 if r.getMessage() == "-> :CTP:RLAS5:IDN?"]) == 2)
    assert not form.fields["power_dbm"].set_button.isEnabled()
    assert panel.controller.status.state is LinkState.LIVE
    panel.rlaser_select.setCurrentIndex(1)  # laser 2 is installed: controls come back
    qtbot.waitUntil(lambda: form.fields["wavelength_nm"].readback.text() == "1310.000 nm")
    assert form.fields["power_dbm"].set_button.isEnabled()
    assert form.fields["power_dbm"].edit is not None and form.fields["power_dbm"].edit.isEnabled()
    assert panel.rlaser_page.info.text().startswith("Laser 2: EXFO,T200S")
