"""Trace variants, SAVE and silent hardware, replayed against exact SCPI exchanges."""

from __future__ import annotations

import numpy as np
import pytest

from ctp10_gui.hardware.ctp10 import TraceType
from ctp10_gui.hardware.errors import (
    InstrumentError,
    LinkError,
    LinkFailure,
    MissingHardwareError,
    NotAvailableError,
    TraceUnavailableError,
)
from ctp10_gui.hardware.replay import Exchange, expected_protocol, ieee_block
from ctp10_gui.hardware.scpi import SPEED_OF_LIGHT_M_S

ADDRESS = "TCPIP::replay::5025::SOCKET"
IDN = ("*IDN?", "EXFO,CTP10,SN0042,1.2.3")
OK = ("SYST:ERR?", "0,No error")
SILENCE = LinkError(ADDRESS, LinkFailure.TIMEOUT, "within 1 s")
BASE = ":TRAC:SENS4:CHAN2:TYPE{t}:DATA"
Y = np.array([-3.5, -40.25, -80.0], dtype=">f4")


def header(t: int, n: int = 3) -> list[tuple[str, str]]:
    base = BASE.format(t=t)
    return [(f"{base}:LENG?", str(n)), (f"{base}:STAR?", "1.50000000E-006"),
            (f"{base}:SAMP?", "1.0E-012")]


# -- trace variants -------------------------------------------------------------------------------


def test_x_axis_in_hertz_is_kept_and_turned_into_wavelengths() -> None:
    wavelength_m = np.array([1500.0, 1500.001, 1500.002]) * 1e-9
    hz = SPEED_OF_LIGHT_M_S / wavelength_m
    exchange: Exchange = [*header(1), (BASE.format(t=1) + "? BIN,DB", ieee_block(Y.tobytes(), b"")),
                (BASE.format(t=1) + ":X? BIN,HZ", ieee_block(hz.astype(">f8").tobytes(), b""))]
    with expected_protocol(exchange) as ctp:
        trace = ctp.fetch_trace(4, 2, TraceType.TF_LIVE, with_x=True, x_in_hz=True)
    assert trace.frequency_hz is not None
    np.testing.assert_allclose(trace.frequency_hz, hz)
    np.testing.assert_allclose(trace.wavelength_nm, [1500.0, 1500.001, 1500.002], rtol=1e-12)


def test_linear_y_is_asked_with_y_and_named_by_trace_kind() -> None:
    linear = np.array([0.5, 1e-4, 1e-8], dtype=">f4")
    exchange: Exchange = [*header(1), (BASE.format(t=1) + "? BIN,Y", ieee_block(linear.tobytes())),
                *header(11), (BASE.format(t=11) + "? BIN,Y", ieee_block(linear.tobytes()))]
    with expected_protocol(exchange) as ctp:
        tf = ctp.fetch_trace(4, 2, 1, linear=True)
        raw = ctp.fetch_trace(4, 2, 11, linear=True)
    assert (tf.unit, raw.unit) == ("ratio", "mW")
    np.testing.assert_allclose(tf.values, linear.astype(float))


def test_ascii_traces_are_read_as_comma_separated_numbers() -> None:
    exchange: Exchange = [*header(12),
                (BASE.format(t=12) + "? ASCII,DB", "-3.500000E+00,-4.025000E+01,-8.000000E+01"),
                (BASE.format(t=12) + ":X? ASCII,M", "1.5E-06,1.500001E-06,1.500002E-06")]
    with expected_protocol(exchange) as ctp:
        trace = ctp.fetch_trace(4, 2, 12, with_x=True, as_text=True)
    np.testing.assert_allclose(trace.values, [-3.5, -40.25, -80.0])
    np.testing.assert_allclose(trace.wavelength_nm, [1500.0, 1500.001, 1500.002])
    assert trace.unit == "dBm" and trace.trace_type is TraceType.RAW_REFERENCE


def test_an_ascii_trace_of_the_wrong_length_is_garbled() -> None:
    exchange: Exchange = [*header(1, n=4), (BASE.format(t=1) + "? ASCII,DB", "-3.5,-4.0,-8.0")]
    with expected_protocol(exchange) as ctp, pytest.raises(LinkError) as caught:
        ctp.fetch_trace(4, 2, 1, as_text=True)
    assert caught.value.kind is LinkFailure.GARBLED and "3 values where LENGth? said 4" in str(
        caught.value)


def test_an_undocumented_trace_type_is_asked_like_the_others() -> None:
    exchange: Exchange = [*header(17), (BASE.format(t=17) + "? BIN,DB", ieee_block(Y.tobytes()))]
    with expected_protocol(exchange) as ctp:
        trace = ctp.fetch_trace(4, 2, 17)
    assert trace.trace_type == 17 and trace.unit == "dB"


def test_a_trace_type_the_module_lacks_is_named_after_reopening() -> None:
    # The instrument does not answer a refused query: silence, then -114 in the error queue.
    exchange: Exchange = [(BASE.format(t=5) + ":LENG?", SILENCE), IDN,
                ("SYST:ERR?", '-114,"Header suffix out of range"'), OK]
    with expected_protocol(exchange) as ctp:
        with pytest.raises(TraceUnavailableError) as caught:
            ctp.fetch_trace(4, 2, 5)
        assert ctp.transport.is_open  # the session was reopened, the link is fine
    assert str(caught.value) == ('module 4 channel 2 offers no trace type 5 (the instrument '
                                 'answered -114 "Header suffix out of range")')
    assert isinstance(caught.value, InstrumentError)


def test_a_refused_linear_y_is_the_instruments_error_not_a_timeout() -> None:
    exchange: Exchange = [*header(1), (BASE.format(t=1) + "? BIN,Y", SILENCE), IDN,
                ("SYST:ERR?", '-224,"Illegal parameter value"'), OK]
    with expected_protocol(exchange) as ctp, pytest.raises(InstrumentError) as caught:
        ctp.fetch_trace(4, 2, 1, linear=True)
    assert caught.value.code == -224 and not isinstance(caught.value, TraceUnavailableError)


def test_silence_with_an_empty_error_queue_stays_a_link_error() -> None:
    exchange: Exchange = [(BASE.format(t=1) + ":LENG?", SILENCE), IDN, OK]
    with expected_protocol(exchange) as ctp, pytest.raises(LinkError) as caught:
        ctp.fetch_trace(4, 2, 1)
    assert caught.value is SILENCE


def test_save_writes_and_checks_the_error_queue() -> None:
    command = ":TRAC:SENS4:CHAN2:TYPE1:SAVE"
    exchange: Exchange = [(command, None), OK, (command, None),
                ("SYST:ERR?", '-200,"Execution error"'), OK,
                (":TRAC:SENS4:CHAN2:TYPE9:SAVE", None),
                ("SYST:ERR?", '-114,"Header suffix out of range"'), OK]
    with expected_protocol(exchange) as ctp:
        ctp.save_trace(4, 2, TraceType.TF_LIVE)
        with pytest.raises(InstrumentError, match="-200"):
            ctp.save_trace(4, 2, 1)
        with pytest.raises(TraceUnavailableError, match="offers no trace type 9"):
            ctp.save_trace(4, 2, 9)


# -- silent laser slots ---------------------------------------------------------------------------


def test_a_silent_reference_laser_reporting_none_is_missing_hardware() -> None:
    exchange: Exchange = [(":CTP:RLAS5:POW?", SILENCE), IDN, OK, (":CTP:RLAS5:IDN?", "NONE")]
    with expected_protocol(exchange) as ctp:
        with pytest.raises(MissingHardwareError) as caught:
            ctp.reference_laser(5).get("power_dbm")
        assert ctp.transport.is_open
    assert str(caught.value) == ("reference laser 5 does not answer (not installed: its "
                                 "identity reads 'NONE'): is it installed?")


def test_a_reference_laser_refusing_with_an_error_is_missing_hardware() -> None:
    exchange: Exchange = [(":CTP:RLAS7:WAV?", SILENCE), IDN,
                ("SYST:ERR?", '-241,"Hardware missing"'), OK]
    with expected_protocol(exchange) as ctp, pytest.raises(MissingHardwareError, match="-241"):
        ctp.reference_laser(7).get("frequency_thz")


def test_a_silent_installed_laser_is_still_a_link_error() -> None:
    exchange: Exchange = [(":CTP:RLAS1:POW:STAT?", SILENCE), IDN, OK,
                (":CTP:RLAS1:IDN?", "EXFO,T100S-HP,0,6.06")]
    with expected_protocol(exchange) as ctp, pytest.raises(LinkError) as caught:
        ctp.reference_laser(1).get("output")
    assert caught.value is SILENCE


def test_a_silent_tls_without_a_laser_is_missing_hardware() -> None:
    exchange: Exchange = [(":INIT:TLS3:POW?", SILENCE), IDN, OK, (":INIT:TLS3:ID?", "0")]
    with expected_protocol(exchange) as ctp, pytest.raises(MissingHardwareError) as caught:
        ctp.tls(3).get("power_mw")
    assert "TLS 3 does not answer (no laser serves it (laser position 0))" in str(caught.value)


def test_a_dead_link_after_silence_is_the_link_error_of_reopening() -> None:
    refused = LinkError(ADDRESS, LinkFailure.REFUSED)
    exchange: Exchange = [(":CTP:RLAS4:WAV?", SILENCE), ("*IDN?", refused)]
    with expected_protocol(exchange) as ctp, pytest.raises(LinkError) as caught:
        ctp.reference_laser(4).get("wavelength_nm")
    assert caught.value.kind is LinkFailure.REFUSED


def test_a_frequency_of_no_wavelength_is_not_available() -> None:
    # A TLS with no laser keeps 0 m as its start: no frequency, and the link is fine.
    with expected_protocol([(":INIT:TLS3:WAV:STAR?", "0.00000000E+000")]) as ctp:
        with pytest.raises(NotAvailableError, match="Start frequency: not available"):
            ctp.tls(3).get("start_thz")
        assert ctp.transport.is_open


def test_a_tls_silent_even_about_its_laser_position_is_a_link_error_not_a_loop() -> None:
    still = LinkError(ADDRESS, LinkFailure.TIMEOUT, "within 1 s")
    exchange: Exchange = [(":INIT:TLS2:POW?", SILENCE), IDN, OK, (":INIT:TLS2:ID?", still)]
    with expected_protocol(exchange) as ctp, pytest.raises(LinkError) as caught:
        ctp.tls(2).get("power_dbm")
    assert caught.value is still
