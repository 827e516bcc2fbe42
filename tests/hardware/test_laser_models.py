"""Laser model facts of the driver: lookup, speed checks, and agreement with the simulator's."""

from __future__ import annotations

import pytest

from ctp10_gui.hardware.errors import OutOfRangeError
from ctp10_gui.hardware.laser_models import (
    LASER_MODELS,
    find_laser_model,
    laser_installed,
    list_text,
    speed_refusal,
)
from ctp10_gui.hardware.replay import expected_protocol
from ctp10_gui.hardware.scpi import speed_control
from ctp10_gui.simulator import facts as simulator_facts

T100S_HP_SPEEDS = "5–15, 17, 18, 20, 22, 25, 29, 33, 40, 50, 67, 100 nm/s"


def test_driver_and_simulator_agree_on_every_speed_list() -> None:
    driver = {model.name: model.speeds_nm_s for model in LASER_MODELS}
    assert driver == simulator_facts.SWEEP_SPEEDS_NM_S


@pytest.mark.parametrize("simulated", simulator_facts.DEFAULT_LASERS, ids=lambda m: m.name)
def test_driver_and_simulator_agree_on_the_simulated_lasers(
        simulated: simulator_facts.LaserModel) -> None:
    facts = find_laser_model(simulated.name)
    assert facts is not None
    assert (facts.min_nm, facts.max_nm) == (simulated.start_nm, simulated.stop_nm)
    assert (facts.min_power_dbm, facts.max_power_dbm) == (
        simulated.min_power_dbm, simulated.max_power_dbm)
    assert facts.speeds_nm_s == simulated.speeds_nm_s


def test_the_t100s_hp_list_of_issue_12() -> None:
    facts = find_laser_model("T100S-HP")
    assert facts is not None
    assert facts.speeds_text == T100S_HP_SPEEDS
    assert set(facts.speeds_nm_s) == {*range(5, 16), 17, 18, 20, 22, 25, 29, 33, 40, 50, 67, 100}


@pytest.mark.parametrize(("idn_model", "name"), [
    ("T100S-HP", "T100S-HP"), ("t200s", "T200S"), ("EXFO T500S-CL", "T500S"),
    ("mSWS-AISLS", "mSWS-AISLS"), ("X9000", None), ("", None), (None, None),
])
def test_models_are_found_by_their_idn_field(idn_model: str | None, name: str | None) -> None:
    facts = find_laser_model(idn_model)
    assert (facts.name if facts else None) == name


@pytest.mark.parametrize("speed", [16, 19, 21, 101, 4])
def test_speeds_off_the_t100s_hp_list_are_refused_with_the_list(speed: int) -> None:
    assert speed_refusal("T100S-HP", speed) == (
        f"a T100S-HP sweeps at {T100S_HP_SPEEDS} only, not {speed} nm/s")
    with pytest.raises(OutOfRangeError) as raised:
        speed_control("T100S-HP").validate(speed)
    assert raised.value.valid == f"one of {T100S_HP_SPEEDS}"


def test_allowed_speeds_pass() -> None:
    assert speed_refusal("T100S-HP", 67) == "" and speed_refusal("T200S", 200) == ""
    assert speed_refusal(None, 16) == ""  # an unknown model: the instrument decides
    assert speed_control("T100S-HP").validate(17.0) == 17


def test_list_text_joins_runs_of_three_or_more() -> None:
    assert list_text([1, 2]) == "1, 2"
    assert list_text([3, 1, 2]) == "1–3"
    assert list_text([0.5, 0.02, 1]) == "0.02, 0.5, 1"
    assert list_text([]) == ""


def test_coverage_of_a_known_and_an_unknown_range() -> None:
    t100 = find_laser_model("T100S-HP")
    t500 = find_laser_model("T500S")
    assert t100 is not None and t500 is not None
    assert t100.covers(1530, 1570) and not t100.covers(1500, 1570)
    assert t500.covers(1240, 1680)  # band unknown: nothing is refused on its behalf


@pytest.mark.parametrize("speed", [16, 19, 21])
def test_the_driver_refuses_16_19_21_before_sending(speed: int) -> None:
    exchange = [(":INIT:TLS1:ID?", "1"), (":CTP:RLAS1:IDN?", "EXFO,T100S-HP,0,6.06")]
    with expected_protocol(exchange) as ctp, pytest.raises(OutOfRangeError,
                                                            match="17, 18, 20, 22"):
        ctp.tls(1).set("speed_nm_s", speed)


@pytest.mark.parametrize(("idn", "installed"), [
    ("NONE", False), ('"none"\r', False), (" None ", False),
    ("EXFO,T100S-HP,0,6.06", True), ("0", True), ("", True),
])
def test_only_none_names_an_empty_laser_position(idn: str, installed: bool) -> None:
    # An identity the driver cannot parse is still a laser: its settings are read, not hidden.
    assert laser_installed(idn) is installed
