"""The instrument-state snapshot of files: replayed exchange, simulator round trip, sentences."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from ctp10_gui.hardware.ctp10 import CTP10
from ctp10_gui.hardware.errors import LinkError
from ctp10_gui.hardware.replay import expected_protocol
from ctp10_gui.hardware.transport import VisaTransport
from ctp10_gui.procedures.controls import SWEEP_GROUP, detector_group, tls_group
from ctp10_gui.procedures.instrument_state import (
    apply_setting,
    describe_setting,
    read_instrument_state,
    state_changes,
)

NOW = datetime(2026, 12, 4, 15, 30, 12).astimezone()


def detector(m: int, c: int, wave: str, unit: str) -> list[tuple[str, str | None]]:
    return [(f":CTP:SENS{m}:CHAN{c}:WAV?", wave), (f":CTP:SENS{m}:CHAN{c}:UNIT:Y?", unit),
            (f":CTP:SENS{m}:CHAN{c}:UNIT:X?", "0")]


SWEEP = [(":INIT:WAV:STAR?", "1.53E-6"), (":INIT:WAV:STOP?", "1.57E-6"),
         (":INIT:WAV:SAMP?", "1.0E-12"), (":INIT:STAB?", "1,5"), (":INIT:STAB?", "1,5")]
TLS1 = [(":INIT:TLS1:ID?", "3"), (":INIT:TLS1:WAV:STAR?", "1.5E-6"),
        (":INIT:TLS1:WAV:STOP?", "1.63E-6"), (":INIT:TLS1:SPE?", "50"),
        (":INIT:TLS1:POW?", "5.0"), (":INIT:TLS1:TRIG?", "0")]
UNASSIGNED = [(f":INIT:TLS{n}:ID?", "0") for n in (2, 3, 4)]
LASER3 = [(":CTP:RLAS3:IDN?", "EXFO,T100S-HP,0,6.06"), (":CTP:RLAS3:POW?", "5.0"),
          (":CTP:RLAS3:POW:STAT?", "1"), (":CTP:RLAS3:WAV?", "1.55E-6")]


def test_the_snapshot_reads_detectors_sweep_assigned_lasers_and_references() -> None:
    exchange = [*detector(4, 1, "1.55E-6", "0"), *detector(4, 2, "1.31E-6", "1"), *SWEEP,
                *TLS1, *UNASSIGNED, *LASER3,
                (":REF:SENS4:CHAN1:RES?", "1,12,20261204,041500"),
                (":REF:SENS4:CHAN2:RES?", "0")]
    with expected_protocol(exchange) as ctp:
        state = read_instrument_state(ctp, 4, (1, 2), now=lambda: NOW)
    assert state["read_at"] == NOW.isoformat(timespec="seconds")
    assert state["detectors"] == {
        "1": {"wavelength_nm": 1550.0, "power_unit": "DBM", "x_unit": "WAV"},
        "2": {"wavelength_nm": 1310.0, "power_unit": "MW", "x_unit": "WAV"},
    }
    assert state["sweep"] == {"start_nm": 1530.0, "stop_nm": 1570.0, "sampling_pm": 1.0,
                              "stabilization_output": True, "stabilization_s": 5.0}
    assert state["tunable_lasers"]["1"] == {
        "identifier": 3, "start_nm": 1500.0, "stop_nm": 1630.0, "speed_nm_s": 50,
        "power_dbm": 5.0, "trigger_in": 0, "laser_model": "T100S-HP"}
    assert state["tunable_lasers"]["2"] == {"identifier": 0}
    assert state["lasers"] == {"3": {"identity": "EXFO,T100S-HP,0,6.06", "power_dbm": 5.0,
                                     "output": True, "wavelength_nm": 1550.0}}
    assert state["references"] == {"1": {"state": 1, "type": 12, "taken": "2026-12-04T04:15:00"},
                                   "2": {"state": 0, "type": 0, "taken": None}}
    assert state["errors"] == []
    assert json.loads(json.dumps(state, allow_nan=False)) == state  # a sidecar can hold it


def test_a_garbled_reply_ends_the_snapshot_with_a_link_error() -> None:
    # A reply that cannot be parsed means the link is not trustworthy: stop, never guess.
    exchange = [(":CTP:SENS4:CHAN1:WAV?", "1.55E-6"), (":CTP:SENS4:CHAN1:UNIT:Y?", "0"),
                (":CTP:SENS4:CHAN1:UNIT:X?", "maybe")]
    with expected_protocol(exchange) as ctp, pytest.raises(LinkError):
        read_instrument_state(ctp, 4, (1,), now=lambda: NOW)


def test_the_simulator_answers_a_complete_snapshot(sim) -> None:
    transport = VisaTransport(sim.address, io_timeout_s=2.0, open_timeout_s=2.0)
    ctp = CTP10(transport)
    ctp.connect()
    try:
        state = read_instrument_state(ctp, 4, (1, 2, 3, 4))
    finally:
        transport.close()
    assert sorted(state["detectors"]) == ["1", "2", "3", "4"]
    assert all(1240.0 <= d["wavelength_nm"] <= 1680.0 for d in state["detectors"].values())
    assigned = [t for t in state["tunable_lasers"].values() if t["identifier"]]
    assert assigned and all("speed_nm_s" in t and t["laser_model"] for t in assigned)
    assert set(state["lasers"]) == {str(t["identifier"]) for t in assigned}
    assert state["errors"] == []
    json.dumps(state, allow_nan=False)


def test_a_set_reads_as_a_sentence_with_label_and_unit() -> None:
    assert describe_setting(tls_group(2), "speed_nm_s", 50) == "TLS 2 Sweep speed set to 50 nm/s"
    assert describe_setting(detector_group(4, 1), "wavelength_nm", 1550.0) == (
        "M4 CH1 Calibration wavelength set to 1550 nm")
    assert describe_setting(SWEEP_GROUP, "stabilization_output", True) == (
        "Sweep Laser on after scan set to ON")


def test_changes_between_snapshots_become_sentences_and_applied_sets_none() -> None:
    old = {"module": 4, "sweep": {"start_nm": 1530.0, "stop_nm": 1570.0},
           "detectors": {"1": {"wavelength_nm": 1550.0, "power_unit": "DBM"}},
           "tunable_lasers": {"1": {"identifier": 3, "speed_nm_s": 50}},
           "references": {"1": {"state": 0}}}
    new = apply_setting(old, tls_group(1), "speed_nm_s", 100)
    assert old["tunable_lasers"]["1"]["speed_nm_s"] == 50  # the original is left alone
    assert state_changes(old, new) == ["TLS 1 Sweep speed: 50 → 100 nm/s"]
    later = apply_setting(apply_setting(new, SWEEP_GROUP, "stop_nm", 1580.0),
                          detector_group(4, 1), "power_unit", "MW")
    later = {**later, "references": {"1": {"state": 1}}}
    assert state_changes(new, later) == ["M4 CH1 Power unit: DBM → MW",
                                         "Sweep Scan stop: 1570 → 1580 nm"]
    assert state_changes(later, apply_setting(later, detector_group(5, 1), "power_unit",
                                              "DBM")) == []
