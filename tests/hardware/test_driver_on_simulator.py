"""The driver's trace variants, SAVE and empty laser slots against the simulator over TCP."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from ctp10_gui.hardware.ctp10 import CTP10, TraceType
from ctp10_gui.hardware.errors import MissingHardwareError, TraceUnavailableError
from ctp10_gui.hardware.transport import VisaTransport
from ctp10_gui.simulator import SimulatorServer

IO_TIMEOUT_S = 0.3  # how long a refused query stays silent before the driver asks why


@pytest.fixture
def open_ctp10() -> Iterator[Callable[[SimulatorServer], CTP10]]:
    """Return open(sim) -> a connected CTP10 on sim through pyvisa-py (closed at the end)."""
    made: list[CTP10] = []

    def make(sim: SimulatorServer) -> CTP10:
        ctp = CTP10(VisaTransport(sim.address, io_timeout_s=IO_TIMEOUT_S, open_timeout_s=2.0))
        ctp.connect()
        made.append(ctp)
        return ctp

    yield make
    for ctp in made:
        ctp.close()


def swept(ctp: CTP10) -> None:
    """Run a short scan (1550–1551 nm at 10 pm: 101 points) and wait until it ends."""
    ctp.sweep.set("start_nm", 1550.0)
    ctp.sweep.set("stop_nm", 1551.0)
    ctp.sweep.set("sampling_pm", 10)
    ctp.start_sweep()
    assert ctp.wait_until_idle(timeout_s=10.0, poll_s=0.01, appear_s=0.05)


@pytest.mark.parametrize("block_trailer", [False, True])
def test_trace_variants_agree_with_the_binary_trace(
    sim_factory: Callable[..., SimulatorServer], open_ctp10: Callable, block_trailer: bool
) -> None:
    ctp = open_ctp10(sim_factory(block_trailer=block_trailer))
    swept(ctp)
    binary = ctp.fetch_trace(4, 1, TraceType.TF_LIVE, with_x=True)
    assert binary.values.size == 101
    in_hz = ctp.fetch_trace(4, 1, TraceType.TF_LIVE, with_x=True, x_in_hz=True)
    assert in_hz.frequency_hz is not None
    np.testing.assert_allclose(in_hz.frequency_hz, 299_792_458.0 / (binary.wavelength_nm * 1e-9))
    np.testing.assert_allclose(in_hz.wavelength_nm, binary.wavelength_nm, rtol=1e-12)
    linear = ctp.fetch_trace(4, 1, TraceType.TF_LIVE, linear=True)
    np.testing.assert_allclose(linear.values, 10 ** (binary.values / 10), rtol=1e-6)
    assert linear.unit == "ratio"
    text = ctp.fetch_trace(4, 1, TraceType.RAW_LIVE, with_x=True, as_text=True)
    raw = ctp.fetch_trace(4, 1, TraceType.RAW_LIVE)
    np.testing.assert_allclose(text.values, raw.values, rtol=1e-6)
    np.testing.assert_allclose(text.wavelength_nm, binary.wavelength_nm, rtol=1e-6)


def test_a_trace_type_the_module_lacks_is_named_within_one_reply_deadline(
    sim: SimulatorServer, open_ctp10: Callable
) -> None:
    ctp = open_ctp10(sim)
    swept(ctp)
    started = time.monotonic()
    with pytest.raises(TraceUnavailableError, match="offers no trace type 7"):
        ctp.fetch_trace(4, 2, 7)
    assert time.monotonic() - started < IO_TIMEOUT_S + 1.0
    # The link is fine: the next trace comes at once, no stale reply in between.
    assert ctp.fetch_trace(4, 2, TraceType.RAW_REFERENCE).values.size == 101


def test_save_keeps_the_trace_in_the_instruments_memory(
    sim: SimulatorServer, open_ctp10: Callable
) -> None:
    ctp = open_ctp10(sim)
    swept(ctp)
    ctp.save_trace(4, 3, TraceType.RAW_LIVE)
    assert [saved[1:] for saved in sim.instrument.saved_traces] == [(4, 3, 11)]
    with pytest.raises(TraceUnavailableError):
        ctp.save_trace(4, 3, 22)


def test_logging_trigger_frequency_and_mw_reach_the_instrument(
    sim: SimulatorServer, open_ctp10: Callable
) -> None:
    ctp = open_ctp10(sim)
    assert ctp.detector(4, 2).set("logging_trigger", 6) == 6
    assert sim.instrument.handle(":CTP:SENS4:CHAN2:FUNC:TRIG?") == "6"
    assert ctp.reference_laser(1).set("frequency_thz", 193.1) == pytest.approx(193.1, rel=1e-8)
    reply = sim.instrument.handle(":CTP:RLAS1:WAV?")
    assert isinstance(reply, str) and float(reply) == pytest.approx(299_792_458.0 / 193.1e12)
    assert ctp.tls(1).set("power_mw", 2.0) == pytest.approx(2.0, rel=1e-6)
    reply = sim.instrument.handle(":INIT:TLS1:POW?")
    assert isinstance(reply, str) and float(reply) == pytest.approx(3.0103, abs=1e-4)


@pytest.mark.parametrize("variant", ["values", "silent", "error"])
def test_an_empty_laser_position_is_named_in_every_variant(
    sim_factory: Callable[..., SimulatorServer], open_ctp10: Callable, variant: str
) -> None:
    ctp = open_ctp10(sim_factory(empty_laser=variant))
    laser = ctp.reference_laser(5)
    assert not laser.installed()
    if variant == "values":
        assert laser.get("power_dbm") == pytest.approx(0.0, abs=20.0)
    else:
        with pytest.raises(MissingHardwareError) as caught:
            laser.get("power_dbm")
        expected = "-241" if variant == "error" else "its identity reads 'NONE'"
        assert expected in str(caught.value)
    # The session is usable right away: the installed laser answers in step.
    assert ctp.reference_laser(1).installed()
    assert ctp.reference_laser(1).get("wavelength_nm") == pytest.approx(1550.0)
