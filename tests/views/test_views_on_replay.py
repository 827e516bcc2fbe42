"""Live controls, a settings form and the recording controls on a FakeLink over a replayed CTP10."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fake_link import FakeLink

from ctp10_gui.hardware.ctp10 import Identity
from ctp10_gui.hardware.replay import expected_protocol
from ctp10_gui.hardware.scpi import TunableLaser, speed_control
from ctp10_gui.models.connection import LinkState
from ctp10_gui.models.recording.flight_recorder import FlightRecorder
from ctp10_gui.models.settings import AppSettings
from ctp10_gui.procedures import tls_group
from ctp10_gui.views.control_form import ControlForm
from ctp10_gui.views.live_controls import LiveControls
from ctp10_gui.views.recording_controls import RecordingControls

OK = ("SYST:ERR?", "0,No error")
IDENTITY = Identity("EXFO", "CTP10", "SN42", "1.0", "EXFO,CTP10,SN42,1.0")


def test_live_controls_read_back_unit_and_wavelength_once_usable(qtbot: Any) -> None:
    exchange = [
        (":CTP:SENS4:CHAN1:UNIT:Y?", "1"), (":CTP:SENS4:CHAN1:WAV?", "1.31E-6"),
        (":CTP:SENS4:CHAN2:UNIT:Y?", "1"), (":CTP:SENS4:CHAN2:WAV?", "1.31E-6"),
    ]
    with expected_protocol(exchange) as ctp:
        link = FakeLink(ctp)
        controls = LiveControls(link, module=4, channels=(1, 2), interval_s=0.05, live=True,
                                unit="dBm")
        qtbot.addWidget(controls)
        with qtbot.waitSignal(controls.unit_read) as unit:
            link.set_state(LinkState.LIVE)
    assert unit.args == ["mW"] and controls.unit_combo.currentText() == "mW"
    assert controls.wavelength_label.text() == "1310.000 nm"


def test_live_controls_send_the_wavelength_to_each_channel_as_a_reapplied_setting(
        qtbot: Any) -> None:
    exchange = [
        (":CTP:SENS4:CHAN3:UNIT:Y?", "0"), (":CTP:SENS4:CHAN3:WAV?", "1.55E-6"),
        (":CTP:SENS4:CHAN3:WAV 1560.5NM", None), OK, (":CTP:SENS4:CHAN3:WAV?", "1.5605E-6"),
    ]
    with expected_protocol(exchange) as ctp:
        link = FakeLink(ctp)
        controls = LiveControls(link, module=4, channels=(3,), interval_s=0.05, live=True,
                                unit="dBm")
        qtbot.addWidget(controls)
        link.set_state(LinkState.LIVE)
        controls.wavelength_spin.setValue(1560.5)
        with qtbot.waitSignal(controls.wavelengths_read) as read:
            controls.wavelength_button.click()
    assert read.args[0] == pytest.approx({3: 1560.5})
    assert link.requests[-1].key == ("detector_wavelength_nm", 4, 3)


def test_a_settings_form_reads_its_group_and_sends_a_set_with_read_back(qtbot: Any) -> None:
    names = [c.name for c in TunableLaser.controls]
    readings = {"identifier": "2", "start_nm": "1.5E-6", "stop_nm": "1.6E-6",
                "speed_nm_s": "50", "power_dbm": "3", "trigger_in": "0"}
    commands = {c.name: c.get_command.format(n=2) for c in TunableLaser.controls
                if c.get_command}
    # A control set in another unit (mW, THz) is read through the control it converts.
    source = {c.name: c.derive[0] if c.derive else c.name for c in TunableLaser.controls}
    read_all = [(commands[source[n]], readings[source[n]]) for n in names]
    exchange = [
        *read_all,
        (":INIT:TLS2:POW 5DBM", None), OK, (":INIT:TLS2:POW?", "5"),
        *read_all,  # a set may move other settings: the form reads them all again
    ]
    with expected_protocol(exchange) as ctp:
        link = FakeLink(ctp)
        form = ControlForm(link, tls_group(2), TunableLaser.controls)
        qtbot.addWidget(form)
        form.set_online(True)
        with qtbot.waitSignal(form.refreshed):
            form.refresh()
        assert form.fields["start_nm"].readback.text() == "1500.000 nm"
        with qtbot.waitSignal(form.value_set) as sent:
            form.submit("power_dbm", "5")
    assert sent.args == ["power_dbm", 5.0]


def test_a_refusal_by_the_driver_names_the_field_as_the_user_sees_it(qtbot: Any) -> None:
    # The form has not learnt the laser model: 16 nm/s passes its 5–200 check; the driver reads
    # the model, refuses before sending, and the message uses the field's label.
    exchange = [(":INIT:TLS1:ID?", "1"), (":CTP:RLAS1:IDN?", "EXFO,T100S-HP,0,6.06")]
    with expected_protocol(exchange) as ctp:
        link = FakeLink(ctp)
        form = ControlForm(link, tls_group(1), TunableLaser.controls, suggest=("speed_nm_s",))
        qtbot.addWidget(form)
        form.set_online(True)
        with qtbot.waitSignal(form.field_error) as error:
            form.submit("speed_nm_s", "16")
    assert error.args == ["speed_nm_s", (
        "Not sent: Sweep speed 16 nm/s is out of range: valid is one of 5–15, 17, 18, 20, 22, "
        "25, 29, 33, 40, 50, 67, 100 nm/s")]
    assert "speed_nm_s" not in form.fields["speed_nm_s"].message.text()


@pytest.fixture
def recording(qtbot: Any, tmp_path: Path) -> Any:
    made: list[RecordingControls] = []

    def make(link: FakeLink) -> RecordingControls:
        controls = RecordingControls(link, FlightRecorder(minutes=10),
                                     AppSettings(record_folder=str(tmp_path / "rec"),
                                                 module=4, channels=[1, 2]))
        qtbot.addWidget(controls)
        made.append(controls)
        return controls

    yield make
    for controls in made:
        controls.shutdown()


def test_recording_sidecar_gets_the_wavelengths_read_from_the_instrument(
        qtbot: Any, recording: Any, tmp_path: Path) -> None:
    exchange = [(":CTP:SENS4:CHAN1:WAV?", "1.55E-6"), (":CTP:SENS4:CHAN2:WAV?", "1.31E-6")]
    with expected_protocol(exchange) as ctp:
        link = FakeLink(ctp)
        link.set_identity(IDENTITY)
        controls = recording(link)
        assert controls.start_recording(tmp_path / "rec")
    status = controls.stop_recording()
    assert status.sidecar is not None
    side = json.loads(status.sidecar.read_text())
    assert side["wavelengths_nm"] == pytest.approx({"1": 1550.0, "2": 1310.0})
    assert side["instrument"]["serial"] == "SN42"
    assert side["address"] == "TCPIP::replay::5025::SOCKET"


def test_save_into_an_unwritable_folder_reports_why(qtbot: Any, recording: Any,
                                                    tmp_path: Path) -> None:
    controls = recording(FakeLink())
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with qtbot.waitSignal(controls.message, timeout=5000) as msg:
        thread = controls.save_last(1.0, blocker / "saved")
    thread.join(5.0)
    assert msg.args[0].startswith("Could not save the last 1 min: ")
    assert controls.status_text == msg.args[0]
    assert "color" in controls.status_label.styleSheet()


def test_a_speed_the_instrument_holds_off_the_list_selects_nothing(qtbot: Any) -> None:
    link = FakeLink()
    form = ControlForm(link, tls_group(1), TunableLaser.controls, suggest=("speed_nm_s",))
    qtbot.addWidget(form)
    form.set_online(True)
    field = form.fields["speed_nm_s"]
    field.set_control(speed_control("T100S-HP"))
    field.show_value(16)  # set from the front panel or before this model's list was known
    assert field.readback.text() == "16 nm/s"
    assert field.combo is not None and field.combo.currentText() == ""
    field.submit()
    assert field.message.text() == "Not sent: Sweep speed: choose one of the offered values"
    assert link.requests == []
    field.show_value(17)
    assert field.combo.currentText() == "17"
