"""The simulated CTP10 answers every documented header as the outside evidence says (model)."""

from __future__ import annotations

import numpy as np
import pytest

from ctp10_gui.simulator import SimulatedCTP10, SimulatorOptions

C = 299_792_458.0


class Clock:
    """A settable monotonic clock, s."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def make(clock: Clock | None = None, **options: object) -> SimulatedCTP10:
    options.setdefault("drift", False)
    options.setdefault("noise_db", 0.0)
    return SimulatedCTP10(SimulatorOptions(**options), clock=clock or Clock())


def errors(ctp: SimulatedCTP10) -> list[str]:
    """Drain SYST:ERR? like a client: every reply up to and excluding '0,No error'."""
    out = []
    while (reply := ctp.handle("SYST:ERR?")) != "0,No error":
        assert isinstance(reply, str)
        out.append(reply)
    return out


def finished_scan(ctp: SimulatedCTP10, clock: Clock, setup: str = "") -> None:
    if setup:
        ctp.handle(setup)
    ctp.handle(":INIT")
    clock.t += 1000.0
    assert ctp.condition() == 0


def block_payload(block: object) -> bytes:
    assert isinstance(block, bytes) and block[:1] == b"#"
    digits = int(block[1:2])
    count = int(block[2 : 2 + digits])
    assert len(block) == 2 + digits + count  # no trailer by default
    return block[2 + digits :]


# ---------------------------------------------------------------- sweep speed lists

T100S_HP_SPEEDS = [*range(5, 16), 17, 18, 20, 22, 25, 29, 33, 40, 50, 67, 100]


@pytest.mark.parametrize("speed", T100S_HP_SPEEDS)
def test_t100s_hp_accepts_each_listed_speed(speed: int) -> None:
    ctp = make()
    ctp.handle(f":INIT:TLS1:SPE {speed}")
    assert ctp.handle(":INIT:TLS1:SPE?") == str(speed)
    assert errors(ctp) == []


@pytest.mark.parametrize("speed", [4, 16, 19, 21, 30, 66, 101, 200])
def test_t100s_hp_refuses_speeds_off_its_list(speed: int) -> None:
    ctp = make()
    ctp.handle(f":INIT:TLS1:SPE {speed}")
    assert errors(ctp) == ['-222,"Data out of range"']
    assert ctp.handle(":INIT:TLS1:SPE?") == "20"


def test_t200s_speeds_are_its_own_list() -> None:
    ctp = make()
    ctp.handle(":INIT:TLS2:SPE 200;:INIT:TLS2:SPE?")
    assert ctp.handle(":INIT:TLS2:SPE?") == "200"
    ctp.handle(":INIT:TLS2:SPE 25")
    assert errors(ctp) == ['-222,"Data out of range"']


# ---------------------------------------------------------------- one laser, one TLS slot

def test_one_laser_on_two_tls_slots_is_a_settings_conflict() -> None:
    ctp = make()
    ctp.handle(":INIT:TLS3:ID 1")  # laser 1 serves TLS 1
    assert errors(ctp) == ['-221,"Settings conflict"']
    assert ctp.handle(":INIT:TLS3:ID?") == "0"
    ctp.handle(":INIT:TLS1:ID 1")  # the slot that already holds it: nothing changes
    ctp.handle(":INIT:TLS1:ID 0;:INIT:TLS3:ID 1")  # freed first: allowed
    assert ctp.handle(":INIT:TLS1:ID?;:INIT:TLS3:ID?") == "0;1"
    assert errors(ctp) == []


# ---------------------------------------------------------------- units of wavelength settings

@pytest.mark.parametrize(
    "value",
    ["1550NM", "1550000PM", "1.55E-6M", "1.55E-6", "1.55UM", f"{C / 1550e-9 / 1e12!r}THZ",
     f"{C / 1550e-9 / 1e9!r}GHZ", f"{C / 1550e-9!r}HZ", f"{C / 1550e-9!r}"],
)
def test_every_wavelength_setting_takes_every_unit(value: str) -> None:
    ctp = make()
    ctp.handle(
        f":CTP:SENS4:CHAN1:WAV {value};:INIT:WAV:STAR {value};:INIT:TLS1:WAV:STAR {value};"
        f":CTP:RLAS1:WAV {value}"
    )
    assert errors(ctp) == []
    replies = ctp.handle(
        ":CTP:SENS4:CHAN1:WAV?;:INIT:WAV:STAR?;:INIT:TLS1:WAV:STAR?;:CTP:RLAS1:WAV?"
    )
    assert isinstance(replies, str)
    assert [float(r) for r in replies.split(";")] == pytest.approx([1550e-9] * 4, rel=1e-8)


def test_a_frequency_converts_with_c_not_by_scaling() -> None:
    ctp = make()
    ctp.handle(":CTP:SENS4:CHAN1:WAV 193.4THZ")
    assert float(ctp.handle(":CTP:SENS4:CHAN1:WAV?")) == pytest.approx(C / 193.4e12, rel=1e-8)


@pytest.mark.parametrize(("value", "code"), [("0THZ", -222), ("1550XM", -131),
                                              ("178THZ", -222)])
def test_bad_wavelength_units_and_values(value: str, code: int) -> None:
    ctp = make()
    ctp.handle(f":CTP:SENS4:CHAN1:WAV {value}")
    assert [int(e.split(",")[0]) for e in errors(ctp)] == [code]
    assert ctp.handle(":CTP:SENS4:CHAN1:WAV?") == "1.55000000E-006"


# ---------------------------------------------------------------- common queries

def test_status_byte_shows_a_waiting_error() -> None:
    ctp = make()
    assert ctp.handle("*STB?") == "0"
    ctp.handle(":NOPE")
    assert ctp.handle("*STB?") == "4"
    errors(ctp)
    assert ctp.handle("*STB?") == "0"


def test_options_name_each_installed_module_slot() -> None:
    reply = make(modules=(1, 4)).handle("*OPT?")
    assert isinstance(reply, str)
    fields = reply.split(",")
    assert len(fields) == 20
    assert fields[0] == fields[3] == "IL RL OPM2"
    assert {f for i, f in enumerate(fields) if i not in (0, 3)} == {"0"}


# ---------------------------------------------------------------- detector logging trigger

def test_logging_trigger_reads_back_and_resets() -> None:
    ctp = make()
    assert ctp.handle(":CTP:SENS4:CHAN1:FUNC:TRIG?") == "0"
    ctp.handle(":CTP:SENSe4:CHANnel1:FUNCtion:TRIGGer 4")  # PyMeasure's spelling
    assert ctp.handle(":CTP:SENS4:CHAN1:FUNC:TRIG?") == "4"
    assert ctp.handle(":CTP:SENS4:CHAN2:FUNC:TRIG?") == "0"
    ctp.handle(":CTP:SENS4:CHAN1:FUNC:TRIG 9")
    assert errors(ctp) == ['-222,"Data out of range"']
    ctp.handle("*RST")
    assert ctp.handle(":CTP:SENS4:CHAN1:FUNC:TRIG?") == "0"


# ---------------------------------------------------------------- traces

def test_x_axis_in_hertz_is_c_over_lambda_in_the_same_order() -> None:
    clock = Clock()
    ctp = make(clock)
    finished_scan(ctp, clock, ":INIT:WAV:SAMP 100PM")
    x_m = np.frombuffer(block_payload(ctp.handle(":TRAC:SENS4:CHAN1:TYPE1:DATA:X? BIN,M")), ">f8")
    x_hz = np.frombuffer(
        block_payload(ctp.handle(":TRAC:SENS4:CHAN1:TYPE1:DATA:X? BIN,HZ")), ">f8"
    )
    assert x_hz.size == x_m.size == 401
    assert x_hz == pytest.approx(C / x_m, rel=1e-12)
    text = ctp.handle(":TRAC:SENS4:CHAN1:TYPE1:DATA:X? ASCII,HZ")
    assert isinstance(text, str)
    assert np.array(text.split(","), dtype=float) == pytest.approx(x_hz, rel=1e-6)


def test_linear_y_is_ten_to_the_db_over_ten() -> None:
    clock = Clock()
    ctp = make(clock)
    finished_scan(ctp, clock, ":INIT:WAV:SAMP 100PM")
    db = np.frombuffer(block_payload(ctp.handle(":TRAC:SENS4:CHAN1:TYPE1:DATA? BIN,DB")), ">f4")
    linear = np.frombuffer(
        block_payload(ctp.handle(":TRAC:SENS4:CHAN1:TYPE1:DATA? BIN,Y")), ">f4"
    )
    assert linear == pytest.approx(10.0 ** (db.astype(np.float64) / 10.0), rel=1e-5)


def test_trace_save_needs_a_scan_and_an_offered_type() -> None:
    clock = Clock()
    ctp = make(clock)
    ctp.handle(":TRAC:SENS4:CHAN1:TYPE1:SAVE")
    assert errors(ctp) == ['-200,"Execution error"']
    finished_scan(ctp, clock)
    ctp.handle(":TRACe:SENSe4:CHANnel2:TYPE11:SAVE")
    ctp.handle(":TRAC:SENS4:CHAN1:TYPE5:SAVE")  # a type this detector does not offer
    assert errors(ctp) == ['-114,"Header suffix out of range"']
    assert ctp.saved_traces == [(1, 4, 2, 11)]


def test_tf_reference_reports_type_0() -> None:
    clock = Clock()
    ctp = make(clock)
    ctp.handle(":REF:SENS4:CHAN2:INIT")
    clock.t += 1000.0
    reply = ctp.handle(":REF:SENS4:CHAN2:RES?")
    assert isinstance(reply, str) and reply.split(",")[:2] == ["1", "0"]


# ---------------------------------------------------------------- empty laser positions

EMPTY_QUERIES = ":CTP:RLAS5:POW?", ":CTP:RLAS5:POW:STAT?", ":CTP:RLAS5:WAV?"


@pytest.mark.parametrize("variant", ["values", "silent", "error"])
def test_empty_laser_position_says_none_and_refuses_settings(variant: str) -> None:
    ctp = make(empty_laser=variant)
    assert ctp.handle(":CTP:RLAS5:IDN?") == "NONE"
    ctp.handle(":CTP:RLAS5:POW 3DBM")
    ctp.handle(":CTP:RLAS5:WAV 1550NM")
    ctp.handle(":CTP:RLAS5:POW:STAT ON")
    assert errors(ctp) == ['-241,"Hardware missing"'] * 3


def test_empty_laser_values_variant_answers_setpoints() -> None:
    ctp = make(empty_laser="values")
    assert [ctp.handle(q) for q in EMPTY_QUERIES] == ["6.00000000E+000", "0", "1.55000000E-006"]
    assert errors(ctp) == []


def test_empty_laser_silent_variant_never_answers() -> None:
    ctp = make(empty_laser="silent")
    assert [ctp.handle(q) for q in EMPTY_QUERIES] == [None, None, None]
    assert errors(ctp) == []
    assert ctp.handle(":CTP:RLAS1:POW?") == "6.00000000E+000"  # an installed laser answers


def test_empty_laser_error_variant_queues_hardware_missing() -> None:
    ctp = make(empty_laser="error")
    assert [ctp.handle(q) for q in EMPTY_QUERIES] == [None, None, None]
    assert errors(ctp) == ['-241,"Hardware missing"'] * 3
    assert ctp.handle(":CTP:RLAS2:IDN?") == "EXFO,T200S,0,6.06"


def test_bad_empty_laser_option_is_refused_with_a_sentence() -> None:
    with pytest.raises(ValueError, match="empty_laser must be one of"):
        SimulatorOptions(empty_laser="maybe")
