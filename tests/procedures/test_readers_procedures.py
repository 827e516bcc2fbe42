"""Detector read-back procedures replayed against exact SCPI exchanges."""

from __future__ import annotations

import pytest

from ctp10_gui.hardware.errors import LinkError, LinkFailure, OutOfRangeError
from ctp10_gui.hardware.replay import expected_protocol
from ctp10_gui.hardware.scpi import PowerUnit
from ctp10_gui.procedures.readers import DetectorReading, read_detectors, read_wavelengths


def test_detectors_report_unit_then_wavelength_per_channel() -> None:
    exchange = [
        (":CTP:SENS4:CHAN1:UNIT:Y?", "0"), (":CTP:SENS4:CHAN1:WAV?", "1.55E-6"),
        (":CTP:SENS4:CHAN3:UNIT:Y?", "1"), (":CTP:SENS4:CHAN3:WAV?", "1.31E-6"),
    ]
    with expected_protocol(exchange) as ctp:
        readings = read_detectors(ctp, 4, [1, 3])
    assert readings == {1: DetectorReading(pytest.approx(1550.0), PowerUnit.DBM),
                        3: DetectorReading(pytest.approx(1310.0), PowerUnit.MW)}


def test_wavelengths_only_ask_for_the_wavelength() -> None:
    exchange = [(":CTP:SENS2:CHAN5:WAV?", "1.5501E-6"), (":CTP:SENS2:CHAN6:WAV?", "1.6E-6")]
    with expected_protocol(exchange) as ctp:
        assert read_wavelengths(ctp, 2, (5, 6)) == pytest.approx({5: 1550.1, 6: 1600.0})


def test_a_garbled_wavelength_is_a_link_error() -> None:
    with (
        expected_protocol([(":CTP:SENS4:CHAN1:WAV?", "n/a")]) as ctp,
        pytest.raises(LinkError) as caught,
    ):
        read_wavelengths(ctp, 4, [1])
    assert caught.value.kind is LinkFailure.GARBLED


def test_a_channel_out_of_range_is_refused_before_sending() -> None:
    with expected_protocol([]) as ctp, pytest.raises(OutOfRangeError, match="channel = 7"):
        read_detectors(ctp, 4, [7])
