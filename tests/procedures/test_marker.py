"""The live-marker procedure against the exact SCPI exchange it makes."""

from __future__ import annotations

import pytest

from ctp10_gui.hardware.replay import expected_protocol
from ctp10_gui.procedures.marker import read_detector_wavelength


def test_reads_the_detector_wavelength_in_nm_with_one_query() -> None:
    with expected_protocol([(":CTP:SENS4:CHAN2:WAV?", "1.55512300E-006")]) as ctp:
        assert read_detector_wavelength(ctp, 4, 2) == pytest.approx(1555.123)


def test_a_channel_outside_1_to_6_is_refused_before_anything_is_sent() -> None:
    with expected_protocol([]) as ctp, pytest.raises(ValueError, match="channel"):
        read_detector_wavelength(ctp, 4, 7)
