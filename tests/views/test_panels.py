"""Instrument and sweep panels against the simulator through the real LinkController."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from PySide6.QtWidgets import QMessageBox

from ctp10_gui.link.controller import LinkController
from ctp10_gui.models.connection import AcquisitionSettings, BackoffPolicy, LinkState
from ctp10_gui.models.traces import TraceStore
from ctp10_gui.simulator import SimulatorServer
from ctp10_gui.views.instrument_panels import InstrumentPanel
from ctp10_gui.views.sweep_panel import SweepPanel

FAST_BACKOFF = BackoffPolicy(initial_s=0.1, factor=2.0, cap_s=0.4, jitter=0.2, max_attempts=50)
SCPI_LOGGER = "ctp10_gui.scpi"
T100S_HP_SPEEDS = "one of 5–15, 17, 18, 20, 22, 25, 29, 33, 40, 50, 67, 100 nm/s"


@pytest.fixture
def connect(qtbot: Any) -> Iterator[Callable[[SimulatorServer], LinkController]]:
    """Return connect(sim) -> a LinkController Live on that simulator (shut down at the end)."""
    controllers: list[LinkController] = []

    def make(sim: SimulatorServer) -> LinkController:
        controller = LinkController(AcquisitionSettings(interval_s=0.05, backoff=FAST_BACKOFF))
        controllers.append(controller)
        controller.connect_to(sim.address)
        qtbot.waitUntil(lambda: controller.status.state is LinkState.LIVE, timeout=5000)
        return controller

    yield make
    for controller in controllers:
        controller.shutdown()


@pytest.fixture
def panel(qtbot: Any, sim: SimulatorServer, connect: Callable) -> InstrumentPanel:
    """Return an InstrumentPanel filled from a live simulated CTP10."""
    controller = connect(sim)
    widget = InstrumentPanel(controller)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitUntil(lambda: widget.sweep_form.fields["start_nm"].readback.text() != "—")
    qtbot.waitUntil(lambda: widget.tls_form.fields["speed_nm_s"].range.text() == T100S_HP_SPEEDS)
    return widget


def ask(sim: SimulatorServer, query: str) -> str:
    """Ask the simulated instrument directly, bypassing the socket and the app."""
    reply = sim.instrument.handle(query)
    assert isinstance(reply, str)
    return reply


def sent_sets(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Return the set commands (no '?') the transport logged as sent."""
    return [
        r.getMessage()[3:]
        for r in caplog.records
        if r.name == SCPI_LOGGER and r.getMessage().startswith("-> ") and "?" not in r.getMessage()
    ]


def set_and_wait(qtbot: Any, form: Any, name: str, text: str, expected: str) -> None:
    """Type text into a field, press Set and wait until the read-back shows expected."""
    form.submit(name, text)
    field = form.fields[name]
    qtbot.waitUntil(lambda: field.readback.text() == expected, timeout=3000)
    assert not field.message.isVisible() or field.message.property("role") != "error"


# -- instrument panel ------------------------------------------------------------------------


def test_panel_fills_on_connect_with_ranges_shown(panel: InstrumentPanel, sim) -> None:
    tls = panel.tls_form.fields
    assert tls["start_nm"].readback.text() == "1502.000 nm"
    # The installed laser's range and power, not the command's 1240–1680 nm and ±20 dBm.
    assert tls["start_nm"].range.text() == "1502–1627 nm"
    assert tls["stop_nm"].range.text() == "1502–1627 nm"
    assert tls["power_dbm"].range.text() == "-10–13 dBm"
    assert tls["speed_nm_s"].readback.text() == "20 nm/s"
    assert panel.tls_page.info.text() == f"TLS 1: laser 1 (T100S-HP); speeds {T100S_HP_SPEEDS}."
    assert panel.detector_form.fields["wavelength_nm"].range.text() == "1240–1680 nm"
    sweep = panel.sweep_form.fields
    assert sweep["sampling_pm"].range.text() == "one of 0.02, 0.05, 0.1, 0.2, 0.5, 1…250 pm"
    assert sweep["start_nm"].readback.text() == "1530.000 nm"
    assert not panel.banner.isVisible()
    assert all(f.set_button.isEnabled() for f in tls.values())


@pytest.mark.parametrize(
    ("form_name", "changes", "queries"),
    [
        (
            "sweep",
            [("start_nm", "1535", "1535.000 nm"), ("stop_nm", "1565.5", "1565.500 nm"),
             ("sampling_pm", "0.5", "0.5 pm"), ("stabilization_output", "On", "On"),
             ("stabilization_s", "2.5", "2.50 s")],
            [(":INIT:WAV:STAR?", 1535e-9), (":INIT:WAV:STOP?", 1565.5e-9),
             (":INIT:WAV:SAMP?", 0.5e-12), (":INIT:STAB?", "1,2.5")],
        ),
        (
            "tls",
            [("start_nm", "1510", "1510.000 nm"), ("stop_nm", "1620", "1620.000 nm"),
             ("speed_nm_s", "50", "50 nm/s"), ("power_dbm", "5.5", "5.50 dBm"),
             ("trigger_in", "3", "3")],
            [(":INIT:TLS1:SPE?", "50"), (":INIT:TLS1:TRIG?", "3"),
             (":INIT:TLS1:POW?", 5.5)],
        ),
        (
            "detector",
            [("wavelength_nm", "1310", "1310.000 nm"), ("power_unit", "MW", "MW"),
             ("x_unit", "FREQ", "FREQ")],
            [(":CTP:SENS4:CHAN1:WAV?", 1310e-9), (":CTP:SENS4:CHAN1:UNIT:Y?", "1")],
        ),
        (
            "rlaser",
            [("power_dbm", "3", "3.00 dBm"), ("wavelength_nm", "1551.25", "1551.250 nm")],
            [(":CTP:RLAS1:POW?", 3.0), (":CTP:RLAS1:WAV?", 1551.25e-9)],
        ),
    ],
)
def test_every_field_round_trips(
    qtbot: Any, panel: InstrumentPanel, sim, form_name: str, changes: list, queries: list
) -> None:
    form = panel.forms[form_name]
    for name, text, shown in changes:
        set_and_wait(qtbot, form, name, text, shown)
    for query, expected in queries:
        reply = ask(sim, query)
        if isinstance(expected, float):
            assert float(reply) == pytest.approx(expected, rel=1e-9)
        else:
            assert reply == expected
    if form_name == "tls":
        # Another laser position brings that laser's range and speeds: the form re-reads them.
        # Laser 2 serves TLS 2 first: one laser cannot serve two slots (-221).
        sim.instrument.handle(":INIT:TLS2:ID 0")
        set_and_wait(qtbot, form, "identifier", "2", "2")
        qtbot.waitUntil(lambda: form.fields["start_nm"].readback.text() == "1262.500 nm")
        qtbot.waitUntil(lambda: form.fields["speed_nm_s"].readback.text() == "20 nm/s")
        qtbot.waitUntil(
            lambda: form.fields["speed_nm_s"].range.text() == "one of 10, 20, 50, 100, 200 nm/s"
        )
        assert ask(sim, ":INIT:TLS1:ID?") == "2"
    if form_name == "rlaser":
        freq = form.fields["frequency_thz"]
        qtbot.waitUntil(lambda: freq.readback.text() == "193.25864 THz")  # c / 1551.25 nm


def test_reference_laser_output_is_pending_until_confirmed(
    qtbot: Any, sim_factory: Callable, connect: Callable
) -> None:
    # 2 s switch-on at speedup 4: the instrument confirms ~0.5 s after the set.
    sim = sim_factory(speedup=4.0)
    widget = InstrumentPanel(connect(sim))
    qtbot.addWidget(widget)
    widget.show()
    form = widget.rlaser_form
    field = form.fields["output"]
    qtbot.waitUntil(lambda: field.readback.text() == "Off")
    form.submit("output", "On")
    qtbot.waitUntil(lambda: form.is_pending("output"), timeout=2000)
    assert field.readback.text() == "→ On…"
    assert "waiting for the instrument to confirm" in field.message.text()
    assert not field.set_button.isEnabled()
    qtbot.waitUntil(lambda: not form.is_pending("output"), timeout=5000)
    assert field.readback.text() == "On"
    assert field.message.text() == "Confirmed: On"
    assert ask(sim, ":CTP:RLAS1:POW:STAT?") == "1"


def test_out_of_range_input_sends_nothing(
    qtbot: Any, panel: InstrumentPanel, sim, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=SCPI_LOGGER)
    tls = panel.tls_form
    tls.submit("start_nm", "1700")
    tls.submit("power_dbm", "abc")
    tls.submit("trigger_in", "2.5")
    panel.sweep_form.submit("sampling_pm", "0.3")
    panel.tls_select.setCurrentIndex(1)  # TLS 2 holds a T200S: 10, 20, 50, 100, 200 nm/s
    qtbot.waitUntil(lambda: "T200S" in panel.tls_page.info.text())
    speed = tls.fields["speed_nm_s"]
    with pytest.raises(ValueError, match="'30' is not offered"):
        tls.submit("speed_nm_s", "30")  # a choice: 30 cannot even be entered
    assert speed.message.text() == ""
    assert panel.sweep_form.fields["sampling_pm"].message.text() == (
        "Not sent: Sampling step 0.3 pm is out of range: valid is one of 0.02, 0.05, 0.1, 0.2, "
        "0.5, 1…250 pm"
    )
    assert speed.combo is not None and not speed.editable_choices
    assert [speed.combo.itemText(i) for i in range(speed.combo.count())] == [
        "10", "20", "50", "100", "200"]
    assert speed.range.text() == "one of 10, 20, 50, 100, 200 nm/s"
    assert tls.fields["start_nm"].range.text() == "1262.5–1355 nm"
    # Ask the instrument something so anything queued before it has surely been sent.
    with qtbot.waitSignal(panel.refreshed, timeout=3000):
        panel.refresh()
    assert sent_sets(caplog) == []
    assert ask(sim, ":INIT:TLS2:SPE?") == "20"
    assert float(ask(sim, ":INIT:WAV:SAMP?")) == pytest.approx(1e-12)


def test_refusals_on_one_tls_are_shown_before_sending(
    qtbot: Any, panel: InstrumentPanel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=SCPI_LOGGER)
    tls = panel.tls_form
    tls.submit("start_nm", "1700")
    tls.submit("power_dbm", "abc")
    tls.submit("trigger_in", "2.5")
    assert tls.fields["start_nm"].message.text() == (
        "Not sent: Start 1700 nm is out of range: valid is 1502–1627 nm"
    )
    tls.submit("start_nm", "1300")  # inside the CTP10's 1240–1680 nm, outside the T100S-HP
    assert tls.fields["start_nm"].message.text() == (
        "Not sent: Start 1300 nm is out of range: valid is 1502–1627 nm"
    )
    assert tls.fields["power_dbm"].message.text() == "Not sent: Power: 'abc' is not a number"
    assert tls.fields["trigger_in"].message.text() == (
        "Not sent: Trigger input: '2.5' must be a whole number"
    )
    assert tls.fields["start_nm"].edit.property("valid") is False
    assert sent_sets(caplog) == []


def test_instrument_error_appears_next_to_its_field(
    qtbot: Any, panel: InstrumentPanel, sim
) -> None:
    # Laser 2 serves TLS 2: the instrument refuses it for TLS 1 too (a settings conflict).
    tls = panel.tls_form
    errors: list[tuple[str, str]] = []
    tls.field_error.connect(lambda name, text: errors.append((name, text)))
    tls.submit("identifier", "2")
    field = tls.fields["identifier"]
    qtbot.waitUntil(lambda: field.message.property("role") == "error", timeout=3000)
    assert field.message.text().startswith("Instrument error -221")
    assert ":INIT:TLS1:ID 2" in field.message.text()
    assert [name for name, _ in errors] == ["identifier"]
    assert all(not f.message.isVisible() for n, f in tls.fields.items() if n != "identifier")
    assert ask(sim, ":INIT:TLS1:ID?") == "1"


def test_an_error_is_cleared_by_the_next_successful_set_in_its_group(
    qtbot: Any, panel: InstrumentPanel
) -> None:
    tls = panel.tls_form
    tls.submit("identifier", "2")
    identifier = tls.fields["identifier"]
    qtbot.waitUntil(lambda: identifier.message.property("role") == "error", timeout=3000)
    tls.submit("power_dbm", "abc")  # refused before sending: stays until a set works
    assert tls.fields["power_dbm"].message.text() == "Not sent: Power: 'abc' is not a number"
    set_and_wait(qtbot, tls, "trigger_in", "2", "2")
    assert identifier.message.text() == "" and identifier.message.isHidden()
    assert tls.fields["power_dbm"].message.text() == ""
    # Errors of another group (the sweep) are not this set's business.
    panel.sweep_form.submit("sampling_pm", "0.3")
    set_and_wait(qtbot, tls, "trigger_in", "3", "3")
    assert panel.sweep_form.fields["sampling_pm"].message.text().startswith("Not sent")


def test_speed_is_a_choice_of_the_laser_models_speeds(
    qtbot: Any, panel: InstrumentPanel, sim, caplog: pytest.LogCaptureFixture
) -> None:
    speed = panel.tls_form.fields["speed_nm_s"]
    assert speed.combo is not None and not speed.editable_choices
    offered = [speed.combo.itemText(i) for i in range(speed.combo.count())]
    assert offered == [*map(str, range(5, 16)), "17", "18", "20", "22", "25", "29", "33", "40",
                       "50", "67", "100"]
    assert speed.combo.currentText() == "20"  # the read-back is selected
    caplog.set_level(logging.DEBUG, logger=SCPI_LOGGER)
    for refused in ("16", "19", "21"):
        with pytest.raises(ValueError, match="is not offered"):
            speed.set_editor_text(refused)
    set_and_wait(qtbot, panel.tls_form, "speed_nm_s", "17", "17 nm/s")
    assert ask(sim, ":INIT:TLS1:SPE?") == "17"
    assert sent_sets(caplog) == [":INIT:TLS1:SPE 17"]


def test_reference_laser_ranges_follow_its_model(qtbot: Any, panel: InstrumentPanel) -> None:
    fields = panel.rlaser_form.fields
    qtbot.waitUntil(lambda: fields["wavelength_nm"].range.text() == "1502–1627 nm")
    assert fields["power_dbm"].range.text() == "-10–13 dBm"
    panel.rlaser_select.setCurrentIndex(1)  # laser 2: the O-band T200S
    qtbot.waitUntil(lambda: fields["wavelength_nm"].range.text() == "1262.5–1355 nm")
    panel.rlaser_select.setCurrentIndex(4)  # laser 5: an empty position, the command's range
    qtbot.waitUntil(lambda: fields["wavelength_nm"].range.text() == "1240–1680 nm")
    assert fields["power_dbm"].range.text() == "-20–20 dBm"


def test_tls_without_laser_offers_no_speed_and_says_why(
    qtbot: Any, panel: InstrumentPanel, caplog: pytest.LogCaptureFixture
) -> None:
    panel.tls_select.setCurrentIndex(2)  # TLS 3: laser position 0 in the simulator
    field = panel.tls_form.fields["speed_nm_s"]
    qtbot.waitUntil(lambda: "no laser" in field.message.text())
    assert field.message.text() == (
        "No speed can be set: TLS 3 has no laser (position 0). Set its laser position first."
    )
    caplog.set_level(logging.DEBUG, logger=SCPI_LOGGER)
    panel.tls_form.submit("speed_nm_s", "20")
    assert field.message.text().startswith("Not sent: No speed can be set")
    assert sent_sets(caplog) == []


def test_read_only_while_offline_and_refilled_after_reconnect(
    qtbot: Any, panel: InstrumentPanel, sim
) -> None:
    controller = panel.controller
    power = panel.tls_form.fields["power_dbm"]
    assert power.readback.text() == "8.00 dBm"
    sim.faults.refuse()  # nobody can connect until listen again
    sim.faults.drop_connections()
    qtbot.waitUntil(lambda: controller.status.state is LinkState.RECONNECTING, timeout=5000)
    assert panel.banner.isVisible()
    assert panel.banner.text().startswith("Read-only: link lost, reconnecting (attempt")
    assert not power.set_button.isEnabled()
    assert power.edit.isReadOnly()
    assert power.set_button.toolTip().startswith("Read-only: link lost")
    # The instrument changes meanwhile (front panel); the panel must show it after reconnect.
    sim.instrument.handle(":INIT:TLS1:POW 3DBM")
    sim.faults.start_listening()
    qtbot.waitUntil(lambda: controller.status.state is LinkState.LIVE, timeout=5000)
    qtbot.waitUntil(lambda: power.readback.text() == "3.00 dBm", timeout=3000)
    assert not panel.banner.isVisible()
    assert power.set_button.isEnabled()


def test_detector_settings_are_sent_again_after_a_reconnect(
    qtbot: Any, panel: InstrumentPanel, sim
) -> None:
    controller = panel.controller
    form = panel.detector_form
    set_and_wait(qtbot, form, "wavelength_nm", "1310", "1310.000 nm")
    sim.faults.refuse()
    sim.faults.drop_connections()
    qtbot.waitUntil(lambda: controller.status.state is LinkState.RECONNECTING, timeout=5000)
    sim.instrument.handle(":CTP:SENS4:CHAN1:WAV 1550NM")  # the instrument restarted meanwhile
    sim.faults.start_listening()
    qtbot.waitUntil(lambda: controller.status.state is LinkState.LIVE, timeout=5000)
    qtbot.waitUntil(
        lambda: float(ask(sim, ":CTP:SENS4:CHAN1:WAV?")) == pytest.approx(1310e-9), timeout=3000
    )
    with qtbot.waitSignal(panel.refreshed, timeout=3000):
        panel.refresh()
    assert form.fields["wavelength_nm"].readback.text() == "1310.000 nm"


def test_a_detector_wavelength_set_by_frequency_is_sent_again_after_a_reconnect(
    qtbot: Any, panel: InstrumentPanel, sim
) -> None:
    controller = panel.controller
    form = panel.detector_form
    set_and_wait(qtbot, form, "frequency_thz", "229", "229.000 THz")
    assert float(ask(sim, ":CTP:SENS4:CHAN1:WAV?")) == pytest.approx(299_792_458.0 / 229e12)
    sim.faults.refuse()
    sim.faults.drop_connections()
    qtbot.waitUntil(lambda: controller.status.state is LinkState.RECONNECTING, timeout=5000)
    sim.instrument.handle(":CTP:SENS4:CHAN1:WAV 1550NM")  # the instrument restarted meanwhile
    sim.faults.start_listening()
    qtbot.waitUntil(lambda: controller.status.state is LinkState.LIVE, timeout=5000)
    qtbot.waitUntil(lambda: float(ask(sim, ":CTP:SENS4:CHAN1:WAV?")) == pytest.approx(
        299_792_458.0 / 229e12), timeout=3000)


def test_disconnected_panel_says_not_connected(qtbot: Any, panel: InstrumentPanel) -> None:
    panel.controller.disconnect_link()
    qtbot.waitUntil(lambda: panel.banner.isVisible())
    assert panel.banner.text() == "Read-only: not connected: disconnected by the user."
    assert not panel.reload_button.isEnabled()
    panel.tls_form.fields["power_dbm"].set_button.click()  # disabled: nothing happens
    panel.tls_form.submit("power_dbm", "5")  # Enter in the field
    assert panel.tls_form.fields["power_dbm"].message.text() == (
        "Not sent: read-only while not connected: disconnected by the user"
    )


# -- sweep panel -----------------------------------------------------------------------------


@pytest.fixture
def sweep(qtbot: Any, connect: Callable, sim_factory: Callable) -> tuple[SweepPanel, Any, Any]:
    """Return (SweepPanel, controller, sim): 1530–1570 nm at 20 nm/s lasts 2 s / speedup."""
    sim = sim_factory(speedup=8.0)  # ≈ 0.25 s per sweep: long enough to see progress
    controller = connect(sim)
    store = TraceStore()
    widget = SweepPanel(controller, store)
    qtbot.addWidget(widget)
    widget.show()
    widget.store = store  # type: ignore[attr-defined]
    return widget, controller, sim


def test_sweep_runs_with_progress_completes_and_live_resumes(qtbot: Any, sweep) -> None:
    widget, controller, _ = sweep
    states: list[tuple[LinkState, str]] = []
    controller.state_changed.connect(lambda s: states.append((s.state, s.reason)))
    progress: list[int] = []
    widget.progress.valueChanged.connect(progress.append)
    widget.set_channels(4, [1, 2])
    with qtbot.waitSignal(widget.sweep_finished, timeout=5000) as finished:
        widget.start_sweep()
        assert not widget.start_button.isEnabled() and widget.abort_button.isEnabled()
    assert finished.args[0] == "completed"
    assert finished.args[1].startswith("Sweep completed in ")
    assert (LinkState.BUSY, "Sweeping") in states
    assert all(state is not LinkState.STALE for state, _ in states)
    assert any(0 < v < widget.progress.maximum() for v in progress)
    assert widget.progress.value() == widget.progress.maximum()
    assert widget.time_label.text().startswith("Took ")
    assert "≈ 2.0 s expected (40 nm at TLS 1 20 nm/s ≈ 2.0 s + 0 s stabilization)" in (
        widget.time_label.text()
    )
    qtbot.waitUntil(lambda: controller.status.state is LinkState.LIVE, timeout=3000)
    with qtbot.waitSignal(controller.batch_received, timeout=2000):
        pass  # live data flows again without anyone asking
    # "Fetch after the sweep" brought the TF traces of both channels.
    qtbot.waitUntil(lambda: len(widget.store) == 2, timeout=5000)
    assert [t.label for t in widget.store] == ["M4 C1 TF live", "M4 C2 TF live"]
    assert "Fetched 2 trace(s), 80002 points." in widget.result_label.text()
    assert widget.start_button.isEnabled()


def test_abort_mid_sweep_stops_it_at_once(qtbot: Any, sweep) -> None:
    widget, controller, sim = sweep
    sim.instrument.speedup = 0.5  # a 4 s sweep: only Abort can end it within the test
    widget.fetch_after.setChecked(False)
    widget.start_sweep()
    qtbot.waitUntil(lambda: bool(sim.instrument.condition() & 4), timeout=3000)  # scanning
    qtbot.waitUntil(lambda: widget.progress.value() > 0, timeout=3000)
    qtbot.waitUntil(lambda: controller.status.state is LinkState.BUSY, timeout=1000)
    with qtbot.waitSignal(widget.sweep_finished, timeout=2000) as finished:
        widget.abort()
    assert finished.args[0] == "aborted"
    assert finished.args[1].startswith("Sweep aborted after ")
    assert widget.progress.format() == "sweep aborted"
    assert sim.instrument.condition() & 4 == 0
    assert sim.instrument.last_sweep is None  # no finished scan to read traces from
    qtbot.waitUntil(lambda: controller.status.state is LinkState.LIVE, timeout=3000)


def test_link_loss_mid_sweep_fails_and_is_not_restarted(
    qtbot: Any, sweep, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=SCPI_LOGGER)
    widget, controller, sim = sweep
    sim.instrument.speedup = 0.5
    widget.start_sweep()
    qtbot.waitUntil(lambda: bool(sim.instrument.condition() & 4), timeout=3000)
    with qtbot.waitSignal(widget.sweep_finished, timeout=5000) as finished:
        sim.faults.reset_connections()
    assert finished.args[0] == "failed"
    assert finished.args[1].startswith("Sweep failed")
    assert "not restarted" in finished.args[1]
    assert widget.result_label.property("role") == "error"
    sim.instrument.handle(":ABOR")  # end the orphaned scan on the instrument's own panel
    qtbot.waitUntil(lambda: controller.status.state is LinkState.LIVE, timeout=5000)
    for _ in range(3):  # a restart would be queued right after the reconnect: give it time
        with qtbot.waitSignal(controller.batch_received, timeout=2000):
            pass
    assert sent_sets(caplog).count(":INIT") == 1
    assert sim.instrument.condition() & 4 == 0  # not scanning again
    assert widget.running is None and widget.start_button.isEnabled()


def test_references_are_listed_with_state_type_date_and_time(qtbot: Any, sweep) -> None:
    widget, controller, _ = sweep
    widget.set_channels(4, [1, 3])
    widget.refresh_references()
    qtbot.waitUntil(lambda: len(widget.reference_rows()) == 2)
    assert widget.reference_rows() == [
        ("4", "1", "none", "—", "—", "—"),
        ("4", "3", "none", "—", "—", "—"),
    ]
    with qtbot.waitSignal(widget.references_updated, timeout=5000) as updated:
        widget.create_references()
    assert [(m, c) for m, c, _ in updated.args[0]] == [(4, 1), (4, 3)]
    rows = widget.reference_rows()
    # type 0: a TF reference (one sweep)
    assert [r[:4] for r in rows] == [("4", "1", "taken (1)", "0"), ("4", "3", "taken (1)", "0")]
    for row, (_, _, result) in zip(rows, updated.args[0], strict=True):
        assert row[4] == result.taken.strftime("%Y-%m-%d")
        assert row[5] == result.taken.strftime("%H:%M:%S")
    assert widget.result_label.text().startswith("Reference taken on 2 channel(s)")
    qtbot.waitUntil(lambda: controller.status.state is LinkState.LIVE, timeout=3000)


def test_a_sweep_no_assigned_laser_covers_is_refused_with_a_sentence(
    qtbot: Any, sweep, caplog: pytest.LogCaptureFixture
) -> None:
    widget, _, sim = sweep
    caplog.set_level(logging.DEBUG, logger=SCPI_LOGGER)
    sim.instrument.handle(":INIT:TLS1:WAV:STOP 1510NM")  # TLS 1: 1502–1510 nm
    sim.instrument.handle(":INIT:TLS2:ID 0")  # the O-band laser would not cover it either
    with qtbot.waitSignal(widget.sweep_finished, timeout=5000) as finished:
        widget.start_sweep()
    assert finished.args == [
        "refused",
        "Sweep not started: No assigned laser covers the scan 1530–1570 nm (TLS 1 1502–1510 "
        "nm): widen a TLS range or narrow the scan.",
    ]
    assert ":INIT" not in sent_sets(caplog)
    assert sim.instrument.last_sweep is None
    assert widget.result_label.text() == finished.args[1]
    assert widget.start_button.isEnabled()
    # Widening the laser's range again lets the same sweep run.
    sim.instrument.handle(":INIT:TLS1:WAV:STOP 1627NM")
    with qtbot.waitSignal(widget.sweep_finished, timeout=5000) as finished:
        widget.start_sweep()
    assert finished.args[0] == "completed"


def test_a_second_reference_asks_first_and_shows_the_existing_date(
    qtbot: Any, sweep, monkeypatch: pytest.MonkeyPatch
) -> None:
    widget, controller, sim = sweep
    asked: list[str] = []

    def answer_no(parent: object, title: str, text: str, *_: object) -> Any:
        asked.append(text)
        return QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "question", staticmethod(answer_no))
    widget.set_channels(4, [2])
    with qtbot.waitSignal(widget.references_updated, timeout=5000):
        widget.create_references()
    assert asked == []  # nothing to replace the first time
    qtbot.waitUntil(lambda: widget.running is None, timeout=3000)
    first = ask(sim, ":REF:SENS4:CHAN2:RES?")
    row_before = widget.reference_rows()
    qtbot.waitUntil(lambda: controller.status.state is LinkState.LIVE, timeout=3000)
    widget.create_references()
    qtbot.waitUntil(lambda: widget.running is None and bool(asked), timeout=3000)
    (date, time_of_day) = next(row[4:6] for row in row_before if row[:2] == ("4", "2"))
    assert f"Module 4 channel 2: reference of {date} {time_of_day}" in asked[0]
    assert widget.result_label.text() == (
        "Reference not taken: the instrument keeps the existing one(s).")
    assert ask(sim, ":REF:SENS4:CHAN2:RES?") == first
    assert widget.reference_rows() == row_before
