"""Settings procedures by control group, replayed against exact SCPI exchanges."""

from __future__ import annotations

import pytest
from procedure_helpers import OK

from ctp10_gui.hardware.errors import InstrumentError, LinkError, LinkFailure, OutOfRangeError
from ctp10_gui.hardware.replay import expected_protocol
from ctp10_gui.hardware.scpi import PowerUnit, ReferenceLaser, TunableLaser
from ctp10_gui.procedures.controls import (
    SWEEP_GROUP,
    ControlGroup,
    detector_group,
    laser_model_controls,
    read_control,
    read_controls,
    read_laser_identity,
    read_tunable_laser,
    reference_laser_group,
    tls_group,
    write_control,
)


@pytest.mark.parametrize(("group", "command"), [
    (SWEEP_GROUP, ":INIT:WAV:STAR?"),
    (tls_group(3), ":INIT:TLS3:WAV:STAR?"),
    (reference_laser_group(10), ":CTP:RLAS10:WAV?"),
    (detector_group(20, 6), ":CTP:SENS20:CHAN6:WAV?"),
])
def test_each_group_reaches_its_own_channel(group: ControlGroup, command: str) -> None:
    name = "start_nm" if group.kind in ("sweep", "tls") else "wavelength_nm"
    with expected_protocol([(command, "1.5E-6")]) as ctp:
        assert read_control(ctp, group, name) == pytest.approx(1500.0)


def test_read_controls_reads_every_named_control_in_order() -> None:
    exchange = [(":INIT:WAV:STAR?", "1.52E-6"), (":INIT:WAV:SAMP?", "2.0E-13"),
                (":INIT:STAB?", "0,12")]
    with expected_protocol(exchange) as ctp:
        values = read_controls(ctp, SWEEP_GROUP,
                               ["start_nm", "sampling_pm", "stabilization_s"])
    assert list(values) == ["start_nm", "sampling_pm", "stabilization_s"]
    assert values == pytest.approx({"start_nm": 1520.0, "sampling_pm": 0.2,
                                    "stabilization_s": 12.0})


def test_a_derived_control_costs_one_query_of_its_source() -> None:
    exchange = [(":CTP:RLAS1:WAV?", "1.55E-6"), (":CTP:RLAS1:WAV?", "1.55E-6")]
    with expected_protocol(exchange) as ctp:
        values = read_controls(ctp, reference_laser_group(1),
                               ["wavelength_nm", "frequency_thz"])
    assert values["wavelength_nm"] == pytest.approx(1550.0)
    assert values["frequency_thz"] == pytest.approx(193.41448903)


def test_a_garbled_reply_ends_the_read_with_a_link_error() -> None:
    exchange = [(":CTP:RLAS2:POW?", "-3.5"), (":CTP:RLAS2:POW:STAT?", "maybe")]
    with expected_protocol(exchange) as ctp, pytest.raises(LinkError) as caught:
        read_controls(ctp, reference_laser_group(2),
                      ["power_dbm", "output", "wavelength_nm"])
    assert caught.value.kind is LinkFailure.GARBLED


def test_write_control_sends_checks_the_error_queue_and_reads_back() -> None:
    exchange = [(":CTP:SENS4:CHAN2:UNIT:Y MW", None), OK, (":CTP:SENS4:CHAN2:UNIT:Y?", "1")]
    with expected_protocol(exchange) as ctp:
        assert write_control(ctp, detector_group(4, 2), "power_unit", "mW") is PowerUnit.MW


def test_write_control_out_of_range_sends_nothing() -> None:
    with expected_protocol([]) as ctp, pytest.raises(OutOfRangeError, match="1240–1680 nm"):
        write_control(ctp, SWEEP_GROUP, "start_nm", 1000.0)


def test_write_control_refused_by_the_instrument_raises_its_error() -> None:
    exchange = [(":INIT:TLS1:POW 10DBM", None), ("SYST:ERR?", '-222,"Data out of range"'), OK]
    with expected_protocol(exchange) as ctp, pytest.raises(InstrumentError, match="-222"):
        write_control(ctp, tls_group(1), "power_dbm", 10.0)


def test_tunable_laser_reports_position_and_model() -> None:
    exchange = [(":INIT:TLS2:ID?", "3"), (":INIT:TLS2:ID?", "3"),
                (":CTP:RLAS3:IDN?", "EXFO,T100S-HP,0,6.06")]
    with expected_protocol(exchange) as ctp:
        info = read_tunable_laser(ctp, 2)
    assert (info.position, info.model) == (3, "T100S-HP")


def test_tunable_laser_without_a_laser_has_no_model() -> None:
    with expected_protocol([(":INIT:TLS4:ID?", "0"), (":INIT:TLS4:ID?", "0")]) as ctp:
        assert read_tunable_laser(ctp, 4) == (0, None)


def test_laser_identity_is_the_stripped_idn() -> None:
    with expected_protocol([(":CTP:RLAS7:IDN?", " EXFO,T200S,12,1.0 \n")]) as ctp:
        assert read_laser_identity(ctp, 7) == "EXFO,T200S,12,1.0"


def test_laser_model_controls_narrow_ranges_to_what_the_model_is_known_for() -> None:
    t100 = laser_model_controls(TunableLaser.controls, "T100S-HP")
    assert t100["start_nm"].range_text == "1502–1627 nm"
    assert t100["power_dbm"].range_text == "-10–13 dBm"
    assert t100["speed_nm_s"].range_text.startswith("one of 5–15, 17, 18")
    assert t100["trigger_in"] == TunableLaser._by_name["trigger_in"]
    t500 = laser_model_controls(TunableLaser.controls, "T500S")  # band unknown
    assert t500["start_nm"].range_text == "1240–1680 nm"
    assert t500["speed_nm_s"].range_text == "one of 10, 20, 50, 100, 200 nm/s"
    empty = laser_model_controls(ReferenceLaser.controls, None)
    assert empty["wavelength_nm"].range_text == "1240–1680 nm"
    assert empty["power_dbm"].range_text == "-20–20 dBm"
