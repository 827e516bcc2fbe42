"""A setting read answered with no number is that field's problem: "not available", link kept."""

from __future__ import annotations

import pytest

from ctp10_gui.hardware.errors import NotAvailableError
from ctp10_gui.hardware.power import parse_power
from ctp10_gui.hardware.replay import expected_protocol
from ctp10_gui.hardware.scpi import PowerUnit, is_no_value
from ctp10_gui.procedures.controls import read_controls, reference_laser_group

NO_VALUE = ["NaN", "nan", "INF", "-INF", "+9.91E37", "-9.91E+37", "9.9E37", "", '""']


@pytest.mark.parametrize("reply", NO_VALUE)
def test_a_setting_read_without_a_number_is_not_available_and_the_session_stays(
        reply: str) -> None:
    exchange = [(":CTP:RLAS1:POW?", reply), (":CTP:RLAS1:WAV?", "1.55E-06")]
    with expected_protocol(exchange) as ctp:
        laser = ctp.reference_laser(1)
        with pytest.raises(NotAvailableError, match="Power: not available"):
            laser.get("power_dbm")
        # The same session answers the next read: nothing was closed or resynchronised.
        assert laser.get("wavelength_nm") == pytest.approx(1550.0)


def test_read_controls_gives_that_field_alone_not_available() -> None:
    exchange = [(":CTP:RLAS1:POW?", "NaN"), (":CTP:RLAS1:WAV?", "1.55E-06")]
    with expected_protocol(exchange) as ctp:
        values = read_controls(ctp, reference_laser_group(1), ["power_dbm", "wavelength_nm"])
    assert isinstance(values["power_dbm"], NotAvailableError)
    assert values["wavelength_nm"] == pytest.approx(1550.0)


@pytest.mark.parametrize(("reply", "expected"), [
    ("NaN", True), ("-9.91E37", True), ("9.91E37", True), ("INF", True), ("", True),
    ("-3.5", False), ("1.55E-06", False), ("0", False), ("DBM", False),
])
def test_one_sentinel_rule(reply: str, expected: bool) -> None:
    assert is_no_value(reply) is expected


def test_live_power_reads_the_same_sentinels_as_under_or_over_range() -> None:
    for reply in ("9.91E37", "INF"):
        assert parse_power(reply, PowerUnit.DBM)[1].name == "OVER"
    for reply in ("-9.91E37", "-INF", "NaN"):
        assert parse_power(reply, PowerUnit.DBM)[1].name == "UNDER"
