"""Every declared control sends the exact SCPI text, and bad values never leave the PC."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ctp10_gui.hardware.ctp10 import CTP10
from ctp10_gui.hardware.errors import InstrumentError, LinkError, LinkFailure, OutOfRangeError
from ctp10_gui.hardware.replay import expected_protocol
from ctp10_gui.hardware.scpi import (
    Channel,
    Detector,
    PowerUnit,
    ReferenceLaser,
    Sweep,
    TunableLaser,
    XUnit,
    format_number,
    frequency_thz,
    from_si,
    speed_control,
)

OK = ("SYST:ERR?", "0,No error")

Pick = Callable[[CTP10], Channel]
SWEEP: Pick = lambda ctp: ctp.sweep  # noqa: E731
TLS2: Pick = lambda ctp: ctp.tls(2)  # noqa: E731
RLAS10: Pick = lambda ctp: ctp.reference_laser(10)  # noqa: E731
DET41: Pick = lambda ctp: ctp.detector(4, 1)  # noqa: E731

# (channel, control, query, reply, value)
GETS = [
    (SWEEP, "start_nm", ":INIT:WAV:STAR?", "1.52000000E-006", 1520.0),
    (SWEEP, "stop_nm", ":INIT:WAV:STOP?", "1.63000000E-006", 1630.0),
    (SWEEP, "sampling_pm", ":INIT:WAV:SAMP?", "2.00000000E-014", 0.02),
    (SWEEP, "stabilization_output", ":INIT:STAB?", "1,5.6", True),
    (SWEEP, "stabilization_s", ":INIT:STAB?", "1,5.6", 5.6),
    (TLS2, "identifier", ":INIT:TLS2:ID?", "3", 3),
    (TLS2, "start_nm", ":INIT:TLS2:WAV:STAR?", "1.50200000E-006", 1502.0),
    (TLS2, "stop_nm", ":INIT:TLS2:WAV:STOP?", "1.62700000E-006", 1627.0),
    (TLS2, "speed_nm_s", ":INIT:TLS2:SPE?", "20", 20),
    (TLS2, "power_dbm", ":INIT:TLS2:POW?", "8.000", 8.0),
    (TLS2, "trigger_in", ":INIT:TLS2:TRIG?", "0", 0),
    (RLAS10, "power_dbm", ":CTP:RLAS10:POW?", "-3.5", -3.5),
    (RLAS10, "output", ":CTP:RLAS10:POW:STAT?", "1", True),
    (RLAS10, "output", ":CTP:RLAS10:POW:STAT?", "OFF", False),
    (RLAS10, "wavelength_nm", ":CTP:RLAS10:WAV?", "1.31000000E-006", 1310.0),
    (DET41, "power_unit", ":CTP:SENS4:CHAN1:UNIT:Y?", "0", PowerUnit.DBM),
    (DET41, "power_unit", ":CTP:SENS4:CHAN1:UNIT:Y?", "1", PowerUnit.MW),
    (DET41, "power_unit", ":CTP:SENS4:CHAN1:UNIT:Y?", "MW", PowerUnit.MW),
    (DET41, "power_unit", ":CTP:SENS4:CHAN1:UNIT:Y?", "dBm", PowerUnit.DBM),
    (DET41, "x_unit", ":CTP:SENS4:CHAN1:UNIT:X?", "1", XUnit.FREQ),
    (DET41, "x_unit", ":CTP:SENS4:CHAN1:UNIT:X?", "WAV", XUnit.WAV),
    (DET41, "wavelength_nm", ":CTP:SENS4:CHAN1:WAV?", "1.55000000E-006", 1550.0),
    (DET41, "logging_trigger", ":CTP:SENS4:CHAN1:FUNC:TRIG?", "4", 4),
]


@pytest.mark.parametrize(("pick", "name", "query", "reply", "value"), GETS)
def test_get_sends_the_query_and_converts_the_reply(
    pick: Pick, name: str, query: str, reply: str, value: Any
) -> None:
    with expected_protocol([(query, reply)]) as ctp:
        got = pick(ctp).get(name)
    assert got == pytest.approx(value) if isinstance(value, float) else got == value


# (channel, control, value, exchange after validation, read-back value)
SETS = [
    (SWEEP, "start_nm", 1530.5,
     [(":INIT:WAV:STAR 1530.500NM", None), OK, (":INIT:WAV:STAR?", "1.5305E-006")], 1530.5),
    (SWEEP, "stop_nm", 1600,
     [(":INIT:WAV:STOP 1600.000NM", None), OK, (":INIT:WAV:STOP?", "1.6E-006")], 1600.0),
    (SWEEP, "sampling_pm", 0.5,
     [(":INIT:WAV:SAMP 0.5PM", None), OK, (":INIT:WAV:SAMP?", "5.0E-013")], 0.5),
    (SWEEP, "sampling_pm", 20,
     [(":INIT:WAV:SAMP 20PM", None), OK, (":INIT:WAV:SAMP?", "2.0E-011")], 20.0),
    (SWEEP, "stabilization_output", False,
     [(":INIT:STAB?", "1,5.6"), (":INIT:STAB 0,5.6", None), OK, (":INIT:STAB?", "0,5.6")],
     False),
    (SWEEP, "stabilization_s", 10,
     [(":INIT:STAB?", "1,5.6"), (":INIT:STAB 1,10", None), OK, (":INIT:STAB?", "1,10.0")], 10.0),
    (TLS2, "identifier", 4, [(":INIT:TLS2:ID 4", None), OK, (":INIT:TLS2:ID?", "4")], 4),
    (TLS2, "start_nm", 1502,
     [(":INIT:TLS2:WAV:STAR 1502.000NM", None), OK, (":INIT:TLS2:WAV:STAR?", "1.502E-006")],
     1502.0),
    (TLS2, "stop_nm", 1627.25,
     [(":INIT:TLS2:WAV:STOP 1627.250NM", None), OK, (":INIT:TLS2:WAV:STOP?", "1.62725E-006")],
     1627.25),
    (TLS2, "speed_nm_s", 50,
     [(":INIT:TLS2:ID?", "1"), (":CTP:RLAS1:IDN?", "EXFO,T200S,0,6.06"),
      (":INIT:TLS2:SPE 50", None), OK, (":INIT:TLS2:SPE?", "50")], 50),
    (TLS2, "power_dbm", 8.5,
     [(":INIT:TLS2:POW 8.5DBM", None), OK, (":INIT:TLS2:POW?", "8.500")], 8.5),
    (TLS2, "trigger_in", 3, [(":INIT:TLS2:TRIG 3", None), OK, (":INIT:TLS2:TRIG?", "3")], 3),
    (RLAS10, "power_dbm", -3,
     [(":CTP:RLAS10:POW -3DBM", None), OK, (":CTP:RLAS10:POW?", "-3.0")], -3.0),
    (RLAS10, "output", True,
     [(":CTP:RLAS10:POW:STAT ON", None), OK, (":CTP:RLAS10:POW:STAT?", "1")], True),
    (RLAS10, "output", False,
     [(":CTP:RLAS10:POW:STAT OFF", None), OK, (":CTP:RLAS10:POW:STAT?", "0")], False),
    (RLAS10, "wavelength_nm", 1550.12,
     [(":CTP:RLAS10:WAV 1550.120NM", None), OK, (":CTP:RLAS10:WAV?", "1.55012E-006")], 1550.12),
    (DET41, "power_unit", PowerUnit.MW,
     [(":CTP:SENS4:CHAN1:UNIT:Y MW", None), OK, (":CTP:SENS4:CHAN1:UNIT:Y?", "1")], PowerUnit.MW),
    (DET41, "power_unit", "dbm",
     [(":CTP:SENS4:CHAN1:UNIT:Y DBM", None), OK, (":CTP:SENS4:CHAN1:UNIT:Y?", "DBM")],
     PowerUnit.DBM),
    (DET41, "x_unit", XUnit.FREQ,
     [(":CTP:SENS4:CHAN1:UNIT:X FREQ", None), OK, (":CTP:SENS4:CHAN1:UNIT:X?", "1")], XUnit.FREQ),
    (DET41, "wavelength_nm", 1550,
     [(":CTP:SENS4:CHAN1:WAV 1550NM", None), OK, (":CTP:SENS4:CHAN1:WAV?", "1.55E-006")], 1550.0),
    # Set by frequency (λ = c/f on the instrument), read back from the wavelength in metres.
    (SWEEP, "start_thz", 193.1,
     [(":INIT:WAV:STAR 193.1THZ", None), OK, (":INIT:WAV:STAR?", "1.55252438E-006")], 193.1),
    (SWEEP, "stop_thz", 190,
     [(":INIT:WAV:STOP 190THZ", None), OK, (":INIT:WAV:STOP?", "1.57785504E-006")], 190.0),
    (TLS2, "start_thz", 199.5,
     [(":INIT:TLS2:WAV:STAR 199.5THZ", None), OK, (":INIT:TLS2:WAV:STAR?", "1.50271909E-006")],
     199.5),
    (TLS2, "stop_thz", 184.5,
     [(":INIT:TLS2:WAV:STOP 184.5THZ", None), OK, (":INIT:TLS2:WAV:STOP?", "1.62489137E-006")],
     184.5),
    (RLAS10, "frequency_thz", 193.1,
     [(":CTP:RLAS10:WAV 193.1THZ", None), OK, (":CTP:RLAS10:WAV?", "1.55252438E-006")], 193.1),
    (RLAS10, "frequency_ghz", 193100,
     [(":CTP:RLAS10:WAV 193100GHZ", None), OK, (":CTP:RLAS10:WAV?", "1.55252438E-006")],
     193100.0),
    (RLAS10, "frequency_hz", 1.931e14,
     [(":CTP:RLAS10:WAV 193100000000000HZ", None), OK, (":CTP:RLAS10:WAV?", "1.55252438E-006")],
     1.931e14),
    (DET41, "frequency_thz", 229,
     [(":CTP:SENS4:CHAN1:WAV 229THZ", None), OK, (":CTP:SENS4:CHAN1:WAV?", "1.30913737E-006")],
     229.0),
    # Power in mW (suffix MW); the query replies in dBm.
    (TLS2, "power_mw", 5,
     [(":INIT:TLS2:POW 5MW", None), OK, (":INIT:TLS2:POW?", "6.98970004E+000")], 5.0),
    (RLAS10, "power_mw", 0.5,
     [(":CTP:RLAS10:POW 0.5MW", None), OK, (":CTP:RLAS10:POW?", "-3.01029996E+000")], 0.5),
    (DET41, "logging_trigger", 8,
     [(":CTP:SENS4:CHAN1:FUNC:TRIG 8", None), OK, (":CTP:SENS4:CHAN1:FUNC:TRIG?", "8")], 8),
]  # fmt: skip


@pytest.mark.parametrize(("pick", "name", "value", "exchange", "read_back"), SETS)
def test_set_writes_checks_errors_and_returns_the_read_back(
    pick: Pick, name: str, value: Any, exchange: list, read_back: Any
) -> None:
    with expected_protocol(exchange) as ctp:
        got = pick(ctp).set(name, value)
    if isinstance(read_back, float):
        assert got == pytest.approx(read_back, rel=1e-7)
    else:
        assert got == read_back


def test_every_declared_settable_control_has_a_set_case() -> None:
    covered = {(pick(_Stub()).__class__, name) for pick, name, *_ in SETS}
    for cls in (Sweep, TunableLaser, ReferenceLaser, Detector):
        for control in cls.controls:
            if not control.read_only:
                assert (cls, control.name) in covered, control.name
            if control.get_command:
                assert any((p(_Stub()).__class__, n) == (cls, control.name) for p, n, *_ in GETS)


class _Stub(CTP10):
    def __init__(self) -> None:
        super().__init__(transport=None)  # type: ignore[arg-type]


def test_attribute_access_reads_and_writes() -> None:
    exchange = [
        (":CTP:SENS4:CHAN2:WAV?", "1.31E-006"),
        (":INIT:TLS1:TRIG 2", None),
        OK,
        (":INIT:TLS1:TRIG?", "2"),
    ]
    with expected_protocol(exchange) as ctp:
        assert ctp.detector(4, 2).wavelength_nm == pytest.approx(1310.0)
        ctp.tls(1).trigger_in = 2


def test_frequency_and_mw_are_read_from_the_wavelength_and_dbm_replies() -> None:
    exchange = [(":CTP:RLAS3:WAV?", "1.55E-006"), (":CTP:RLAS3:WAV?", "1.55E-006"),
                (":CTP:RLAS3:POW?", "3.0")]
    with expected_protocol(exchange) as ctp:
        laser = ctp.reference_laser(3)
        assert laser.frequency_thz == pytest.approx(193.414489, rel=1e-6)
        assert laser.frequency_ghz == pytest.approx(193414.489, rel=1e-6)
        assert laser.power_mw == pytest.approx(1.99526, rel=1e-5)


def test_frequency_and_mw_ranges_are_the_wavelength_and_dbm_ranges_converted() -> None:
    frequency = ReferenceLaser.controls[3]
    # Shown in 7 digits, rounded inwards: a bound typed as shown is accepted.
    assert frequency.range_text == "178.4479–241.7681 THz"
    assert frequency.validate(178.4479) == 178.4479 and frequency.validate(241.7681) == 241.7681
    hz = ReferenceLaser(_Stub(), 1).control("frequency_hz")
    assert hz.range_text == "1.784479e+14–2.417681e+14 Hz"
    assert hz.validate(1.784479e14) and hz.validate(2.417681e14)
    power_mw = TunableLaser(_Stub(), 1).control("power_mw")
    assert (power_mw.minimum, power_mw.maximum) == pytest.approx((0.01, 100.0))
    with expected_protocol([]) as ctp, pytest.raises(OutOfRangeError, match="THz"):
        ctp.reference_laser(1).set("frequency_thz", 250.0)
    with expected_protocol([]) as ctp, pytest.raises(OutOfRangeError, match="mW"):
        ctp.tls(1).set("power_mw", 0)


def test_reference_laser_identity() -> None:
    with expected_protocol([(":CTP:RLAS7:IDN?", "EXFO,T100S-HP,0,6.06\r")]) as ctp:
        assert ctp.reference_laser(7).identity() == "EXFO,T100S-HP,0,6.06"


# -- refused before sending -----------------------------------------------------------------------

REFUSALS = [
    (SWEEP, "start_nm", 1239.9, "1240–1680 nm"),
    (SWEEP, "stop_nm", 1700, "1240–1680 nm"),
    (SWEEP, "sampling_pm", 0.3, "one of 0.02, 0.05, 0.1, 0.2, 0.5, 1…250 pm"),
    (SWEEP, "sampling_pm", 2.5, "1…250 pm"),
    (SWEEP, "sampling_pm", 251, "1…250 pm"),
    (SWEEP, "stabilization_s", 61, "0–60 s"),
    (SWEEP, "stabilization_s", float("nan"), "0–60 s"),
    (SWEEP, "stabilization_output", "yes", "on or off"),
    (TLS2, "identifier", 11, "0–10"),
    (TLS2, "identifier", 2.5, "0–10"),
    (TLS2, "trigger_in", 9, "0–8"),
    (TLS2, "start_nm", "1550", "1240–1680 nm"),
    (TLS2, "power_dbm", True, "dBm"),
    (TLS2, "power_dbm", None, "dBm"),
    (DET41, "wavelength_nm", 1681, "1240–1680 nm"),
    (DET41, "power_unit", "W", "one of DBM, MW"),
    (DET41, "x_unit", 3, "one of WAV, FREQ"),
    (RLAS10, "wavelength_nm", 1200, "1240–1680 nm"),
]


@pytest.mark.parametrize(("pick", "name", "value", "valid"), REFUSALS)
def test_out_of_range_or_wrong_type_is_refused_and_nothing_is_sent(
    pick: Pick, name: str, value: Any, valid: str
) -> None:
    with expected_protocol([]) as ctp, pytest.raises(OutOfRangeError) as caught:
        pick(ctp).set(name, value)
    assert valid in caught.value.valid
    assert name in str(caught.value) and valid in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("make", "valid"),
    [
        (lambda ctp: ctp.tls(5), "1–4"),
        (lambda ctp: ctp.tls(0), "1–4"),
        (lambda ctp: ctp.tls(1.0), "1–4"),
        (lambda ctp: ctp.reference_laser(11), "1–10"),
        (lambda ctp: ctp.detector(21, 1), "1–20"),
        (lambda ctp: ctp.detector(4, 7), "1–6"),
        (lambda ctp: ctp.snapshot(4, [1, 7]), "1–6"),
        (lambda ctp: ctp.snapshot(4, []), "1–6"),
        (lambda ctp: ctp.fetch_trace(4, 1, 24), "1–23"),
        (lambda ctp: ctp.save_trace(4, 1, 0), "1–23"),
    ],
)
def test_index_out_of_range_is_refused_and_nothing_is_sent(
    make: Callable[[CTP10], object], valid: str
) -> None:
    with expected_protocol([]) as ctp, pytest.raises(OutOfRangeError, match=valid):
        make(ctp)


def test_speed_steps_follow_the_laser_model_which_is_read_once() -> None:
    exchange = [
        (":INIT:TLS1:ID?", "2"),
        (":CTP:RLAS2:IDN?", "EXFO,T200S,0,6.06"),
        # 30 nm/s refused for a T200S: nothing sent; the model is cached for the next set.
        (":INIT:TLS1:SPE 20", None),
        OK,
        (":INIT:TLS1:SPE?", "20"),
    ]
    with expected_protocol(exchange) as ctp:
        laser = ctp.tls(1)
        with pytest.raises(OutOfRangeError, match="one of 10, 20, 50, 100, 200 nm/s"):
            laser.speed_nm_s = 30
        assert laser.set("speed_nm_s", 20) == 20


def test_changing_the_identifier_forgets_the_laser_model() -> None:
    exchange = [
        (":INIT:TLS1:ID?", "1"),
        (":CTP:RLAS1:IDN?", "EXFO,T100S-HP,0,6.06"),
        (":INIT:TLS1:ID 2", None),
        OK,
        (":INIT:TLS1:ID?", "2"),
        (":INIT:TLS1:ID?", "2"),
        (":CTP:RLAS2:IDN?", "EXFO,T500S,0,1.0"),
    ]
    with expected_protocol(exchange) as ctp:
        laser = ctp.tls(1)
        assert laser.model() == "T100S-HP"
        laser.identifier = 2
        with pytest.raises(OutOfRangeError, match="one of 10, 20"):
            laser.speed_nm_s = 7


def test_a_reset_forgets_laser_models_and_units_but_not_compound_support() -> None:
    exchange = [
        (":INIT:TLS1:ID?", "1"),
        (":CTP:RLAS1:IDN?", "EXFO,T100S-HP,0,6.06"),
        (":CTP:SENS4:CHAN1:UNIT:Y?", "MW"),
        ("*RST", None),
        (":INIT:TLS1:ID?", "1"),  # read again: *RST may have moved the laser
        (":CTP:RLAS1:IDN?", "EXFO,T100S-HP,0,6.06"),
    ]
    with expected_protocol(exchange) as ctp:
        ctp.session.compound = True
        assert ctp.tls(1).model() == "T100S-HP"
        assert ctp.detector(4, 1).power_unit is PowerUnit.MW
        assert ctp.session.power_units == {(4, 1): PowerUnit.MW}
        ctp.reset()
        assert not ctp.session.power_units and ctp.session.compound is True
        assert ctp.tls(1).model() == "T100S-HP"


@pytest.mark.parametrize(
    ("model", "good", "bad", "valid"),
    [
        ("T100S-HP", 17, 16, "one of 5–15, 17, 18, 20, 22, 25, 29, 33, 40, 50, 67, 100 nm/s"),
        ("T100S-HP", 67, 19, "one of 5–15, 17, 18, 20, 22, 25, 29, 33, 40, 50, 67, 100 nm/s"),
        ("mSWS-AISLS", 16, 101, "one of 5–100 nm/s"),
        ("T200S", 200, 7, "one of 10, 20, 50, 100, 200 nm/s"),
        ("T500S", 10, 5, "one of 10, 20, 50, 100, 200 nm/s"),
        (None, 150, 250, "5–200 nm/s"),
        ("X9000", 5, 4, "5–200 nm/s"),
    ],
)
def test_speed_control_per_model(model: str | None, good: int, bad: int, valid: str) -> None:
    control = speed_control(model)
    assert control.validate(good) == good
    assert control.range_text == valid
    with pytest.raises(OutOfRangeError, match=valid):
        control.validate(bad)


def test_no_laser_assigned_uses_the_widest_speed_range() -> None:
    exchange = [
        (":INIT:TLS3:ID?", "0"),
        (":INIT:TLS3:SPE 150", None),
        OK,
        (":INIT:TLS3:SPE?", "150"),
    ]
    with expected_protocol(exchange) as ctp:
        assert ctp.tls(3).set("speed_nm_s", 150) == 150


# -- instrument errors and garbled replies --------------------------------------------------------


@pytest.mark.parametrize("text", ['"Data out of range"', "Data out of range"])
def test_instrument_error_surfaces_code_text_and_command(text: str) -> None:
    exchange = [
        (":INIT:TLS1:TRIG 8", None),
        ("SYST:ERR?", f"-222,{text}"),
        ("SYST:ERR?", '-221,"Settings conflict"'),
        ("SYST:ERR?", "0,No error"),
    ]
    with expected_protocol(exchange) as ctp, pytest.raises(InstrumentError) as caught:
        ctp.tls(1).trigger_in = 8
    error = caught.value
    assert (error.code, error.text, error.command) == (
        -222,
        "Data out of range",
        ":INIT:TLS1:TRIG 8",
    )
    assert str(error) == '-222 "Data out of range" after ":INIT:TLS1:TRIG 8"'


def test_unparseable_reading_is_a_garbled_link_error_and_closes_the_session() -> None:
    with expected_protocol([(":INIT:WAV:STAR?", "1.5x#")]) as ctp:
        with pytest.raises(LinkError) as caught:
            ctp.sweep.start_nm  # noqa: B018
        assert caught.value.kind is LinkFailure.GARBLED
        assert "replay:5025" in str(caught.value) and "1.5x#" in str(caught.value)
        assert not ctp.transport.is_open


def test_unknown_control_names_fail_clearly() -> None:
    with expected_protocol([]) as ctp:
        with pytest.raises(KeyError, match="no control 'speed'"):
            ctp.tls(1).get("speed")
        with pytest.raises(AttributeError):
            ctp.tls(1).speed  # noqa: B018


# -- pure helpers ---------------------------------------------------------------------------------


def test_units_and_number_text() -> None:
    assert from_si(1.55e-6, "nm") == 1550.0
    assert from_si(2e-14, "pm") == 0.02
    assert frequency_thz(1550.0) == pytest.approx(193.414, abs=1e-3)
    assert [format_number(v) for v in (1550, 1550.5, 0.02, -3, 0.0)] == [
        "1550",
        "1550.5",
        "0.02",
        "-3",
        "0",
    ]


def test_describe_lists_every_control_with_its_range() -> None:
    text = Sweep(_Stub()).describe()
    assert text["sampling_pm"] == "Sampling step (one of 0.02, 0.05, 0.1, 0.2, 0.5, 1…250 pm)"
    assert text["start_nm"] == "Scan start (1240–1680 nm)"
