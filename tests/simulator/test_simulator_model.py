"""The simulated CTP10 as a pure model: SCPI forms, replies, errors, timing (injected clock)."""

from __future__ import annotations

import re
from datetime import datetime

import numpy as np
import pytest

from ctp10_gui.simulator import SimulatedCTP10, SimulatorOptions

SCI = re.compile(r"^[+-]?\d\.\d{8}E[+-]\d{3}$")  # '1.55000000E-006'
WALL_T0 = datetime(2024, 3, 5, 14, 7, 9).timestamp()


class FakeClock:
    """A settable monotonic clock (s) and a wall clock that moves with it."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def wall(self) -> float:
        return WALL_T0 + (self.t - 1000.0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make(clock: FakeClock, **options: object) -> SimulatedCTP10:
    options.setdefault("drift", False)
    options.setdefault("noise_db", 0.0)
    return SimulatedCTP10(SimulatorOptions(**options), clock=clock, wall_clock=clock.wall)


@pytest.fixture
def ctp(clock: FakeClock) -> SimulatedCTP10:
    return make(clock)


def errors(ctp: SimulatedCTP10) -> list[str]:
    """Drain SYST:ERR? like a client: every reply up to and excluding '0,No error'."""
    out = []
    while (reply := ctp.handle("SYST:ERR?")) != "0,No error":
        assert isinstance(reply, str)
        out.append(reply)
    return out


def test_idn_opc_and_empty_error_queue(ctp: SimulatedCTP10) -> None:
    assert ctp.handle("*IDN?") == "EXFO,CTP10,CTP10-SIM-0001,1.6.2.0"
    assert ctp.handle("*OPC?") == "1"
    assert ctp.handle("SYST:ERR?") == "0,No error"
    assert ctp.handle(":SYSTem:ERRor:NEXT?") == "0,No error"


@pytest.mark.parametrize(
    "command",
    [
        ":INITiate:WAVelength:STARt?",
        ":INIT:WAV:STAR?",
        "init:wav:star?",
        "INIT:WAVELENGTH:START?",
        ":Init:Wav:Star?",
    ],
)
def test_long_short_and_any_case_forms_are_the_same_command(
    ctp: SimulatedCTP10, command: str
) -> None:
    assert ctp.handle(command) == "1.53000000E-006"
    assert errors(ctp) == []


@pytest.mark.parametrize(
    ("command", "query", "reply"),
    [
        (":INIT:WAV:SAMP 0.1PM", ":INIT:WAV:SAMP?", "1.00000000E-013"),
        (":INITiate:WAVelength:SAMPling 250 pm", ":INIT:WAV:SAMP?", "2.50000000E-010"),
        (":INIT:WAV:SAMP 1E-12", ":INIT:WAV:SAMP?", "1.00000000E-012"),
        (":INIT:WAV:STAR 1520NM", ":INIT:WAV:STAR?", "1.52000000E-006"),
        (":INIT:WAV:STOP 1.614E-6", ":INIT:WAV:STOP?", "1.61400000E-006"),
        (":INIT:STAB 1,5.6", ":INIT:STAB?", "1,5.6"),
        (":INIT:STABilization OFF,200MS", ":INITiate:STABilization?", "0,0.2"),
        (":INIT:TLS1:IDentifier 1", ":INIT:TLS1:ID?", "1"),
        (":INIT:TLS1:WAV:STAR 1510NM", ":INIT:TLS1:WAV:STAR?", "1.51000000E-006"),
        (":INIT:TLS1:WAV:STOP 1600NM", ":INIT:TLS1:WAV:STOP?", "1.60000000E-006"),
        (":INIT:TLS1:SPEed 50", ":INIT:TLS1:SPE?", "50"),
        (":INIT:TLS2:SPE 200", ":INIT:TLS2:SPE?", "200"),
        (":INIT:TLS1:POWer 6DBM", ":INIT:TLS1:POW?", "6.00000000E+000"),
        (":INIT:TLS1:POW 1MW", ":INIT:TLS1:POW?", "0.00000000E+000"),
        (":INIT:TLS1:TRIGin 3", ":INIT:TLS1:TRIG?", "3"),
        (":CTP:RLASer1:POWer 5DBM", ":CTP:RLAS1:POW?", "5.00000000E+000"),
        (":CTP:RLAS1:WAVelength 1560NM", ":CTP:RLAS1:WAV?", "1.56000000E-006"),
        (":CTP:RLAS2:WAV 1310NM", ":CTP:RLAS2:WAV?", "1.31000000E-006"),
        (":CTP:SENSe4:CHANnel2:WAVelength 1310NM", ":CTP:SENS4:CHAN2:WAV?", "1.31000000E-006"),
        (":CTP:SENS1:CHAN1:UNIT:Y MW", ":CTP:SENS1:CHAN1:UNIT:Y?", "1"),
        (":CTP:SENS1:CHAN1:UNIT:Y DBM", ":CTP:SENS1:CHAN1:UNIT:Y?", "0"),
        (":CTP:SENS4:CHAN3:UNIT:X FREQ", ":CTP:SENS4:CHAN3:UNIT:X?", "1"),
    ],
)
def test_every_setting_reads_back_in_si_units(
    ctp: SimulatedCTP10, command: str, query: str, reply: str
) -> None:
    assert ctp.handle(command) is None
    assert ctp.handle(query) == reply
    assert errors(ctp) == []


def test_wavelength_replies_use_the_instrument_number_format(ctp: SimulatedCTP10) -> None:
    for query in (":INIT:WAV:STOP?", ":INIT:TLS2:WAV:STAR?", ":CTP:RLAS1:WAV?",
                  ":CTP:SENS4:CHAN1:WAV?", ":CTP:SENS4:CHAN1:POW?"):
        reply = ctp.handle(query)
        assert isinstance(reply, str) and SCI.match(reply), (query, reply)


def test_laser_identities_and_models(ctp: SimulatedCTP10) -> None:
    assert ctp.handle(":CTP:RLAS1:IDN?") == "EXFO,T100S-HP,0,6.06"
    assert ctp.handle(":CTP:RLAS2:IDN?") == "EXFO,T200S,0,6.06"
    assert ctp.handle(":CTP:RLAS7:IDN?") == "NONE"
    assert ctp.handle(":INIT:TLS2:WAV:STAR?;:INIT:TLS2:WAV:STOP?") == (
        "1.26250000E-006;1.35500000E-006"
    )


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (":CTP:SENS4:CHAN1:WAV 1239NM", -222),
        (":CTP:SENS4:CHAN1:WAV 1681NM", -222),
        (":INIT:WAV:SAMP 0.3PM", -222),
        (":INIT:WAV:SAMP 251PM", -222),
        (":INIT:WAV:SAMP 1.5PM", -222),
        (":INIT:TLS1:SPE 101", -222),
        (":INIT:TLS1:SPE 4", -222),
        (":INIT:TLS2:SPE 30", -222),
        (":INIT:TLS2:WAV:STAR 1500NM", -222),
        (":INIT:TLS1:WAV:STOP 1650NM", -222),
        (":INIT:TLS1:POW 20DBM", -222),
        (":INIT:TLS1:TRIG 9", -222),
        (":INIT:STAB 1,61", -222),
        (":CTP:RLAS1:WAV 1300NM", -222),
        (":INIT:TLS3:SPE 20", -221),
        (":INIT:TLS1:ID 5", -241),
        (":CTP:SENS2:CHAN1:POW?", -241),
        (":CTP:SENS21:CHAN1:POW?", -114),
        (":CTP:SENS4:CHAN7:POW?", -114),
        (":TRAC:SENS4:CHAN1:TYPE2:DATA:LENG?", -114),
        (":INIT:WAV:SAMP", -109),
        (":INIT:STAB 1", -109),
        ("*IDN? 3", -108),
        (":INIT:WAV:STAR 1550XX", -131),
        (":INIT:TLS1:SPE fast", -104),
        (":CTP:SENS4:CHAN1:UNIT:Y WATT", -224),
        (":NOPE:NOTHING?", -113),
        ("*FOO?", -113),
        (":INIT:WAVE:STAR?", -113),  # neither the short nor the long form
        (":CTP:SENS4:CHAN1:POW?;CHAN2:POW?", -113),  # SCPI path: …:CHAN1:CHAN2:POW
    ],
)
def test_bad_commands_queue_the_scpi_error(ctp: SimulatedCTP10, command: str, code: int) -> None:
    ctp.handle(command)
    queued = errors(ctp)
    assert queued and queued[0].startswith(f"{code},"), queued


def test_error_replies_quote_the_text_and_queue_in_order(ctp: SimulatedCTP10) -> None:
    ctp.handle(":BOGUS")
    ctp.handle(":INIT:WAV:SAMP 7.5PM")
    ctp.handle(":INIT:WAV:SAMP")
    assert errors(ctp) == [
        '-113,"Undefined header"',
        '-222,"Data out of range"',
        '-109,"Missing parameter"',
    ]


def test_out_of_range_value_leaves_the_setting_unchanged(ctp: SimulatedCTP10) -> None:
    ctp.handle(":INIT:TLS2:SPE 7")
    assert ctp.handle(":INIT:TLS2:SPE?") == "20"


def test_cls_clears_the_queue_and_rst_restores_defaults(ctp: SimulatedCTP10) -> None:
    ctp.handle(":BOGUS")
    ctp.handle("*CLS")
    assert ctp.handle("SYST:ERR?") == "0,No error"
    ctp.handle(":INIT:WAV:SAMP 5PM;:INIT:TLS1:SPE 50")
    ctp.handle("*RST")
    assert ctp.handle(":INIT:WAV:SAMP?;:INIT:TLS1:SPE?") == "1.00000000E-012;20"


def test_changing_the_identifier_moves_the_laser_range(ctp: SimulatedCTP10) -> None:
    ctp.handle(":INIT:TLS2:ID 0")  # laser 2 leaves TLS 2 so that TLS 3 may take it
    ctp.handle(":INIT:TLS3:ID 2")
    assert ctp.handle(":INIT:TLS3:WAV:STAR?") == "1.26250000E-006"
    ctp.handle(":INIT:TLS3:SPE 200")
    assert errors(ctp) == []


def test_sweep_start_past_stop_moves_the_stop_keeping_the_span(ctp: SimulatedCTP10) -> None:
    ctp.handle(":INIT:WAV:STAR 1580NM")  # span was 1530–1570
    assert ctp.handle(":INIT:WAV:STAR?;:INIT:WAV:STOP?") == "1.58000000E-006;1.62000000E-006"


def test_compound_query_answers_on_one_line(ctp: SimulatedCTP10) -> None:
    reply = ctp.handle(":CTP:SENS4:CHAN1:POW?;:CTP:SENS4:CHAN2:POW?;:CTP:SENS4:CHAN3:POW?;"
                       ":CTP:SENS4:CHAN4:POW?")
    assert isinstance(reply, str)
    values = [float(v) for v in reply.split(";")]
    assert len(values) == 4 and all(-9.5 < v < -2.5 for v in values)
    assert ctp.handle(":INIT:WAV:SAMP 2PM;:INIT:WAV:SAMP?") == "2.00000000E-012"


def test_compound_relative_path_follows_scpi(ctp: SimulatedCTP10) -> None:
    assert ctp.handle(":INIT:TLS1:SPE 29;POW 5DBM;:INIT:TLS1:SPE?") == "29"
    assert ctp.handle(":INIT:TLS1:POW?") == "5.00000000E+000"


def test_compound_rejected_when_unsupported(clock: FakeClock) -> None:
    ctp = make(clock, compound=False)
    assert ctp.handle("*IDN?;*OPC?") is None
    assert errors(ctp) == ['-113,"Undefined header"']
    assert ctp.handle("*OPC?") == "1"


def test_command_error_discards_the_rest_of_the_message(ctp: SimulatedCTP10) -> None:
    assert ctp.handle("*OPC?;:BOGUS?;*OPC?") == "1"
    assert ctp.handle("*OPC?;:INIT:WAV:SAMP 3.3PM;*OPC?") == "1;1"  # -222 keeps going


@pytest.mark.parametrize(
    ("unit_reply", "y_replies", "x_replies"),
    [("number", ("0", "1"), ("0", "1")), ("text", ("DBM", "MW"), ("WAV", "FREQ"))],
)
def test_unit_reply_variants(
    clock: FakeClock, unit_reply: str, y_replies: tuple[str, str], x_replies: tuple[str, str]
) -> None:
    ctp = make(clock, unit_reply=unit_reply)
    assert ctp.handle(":CTP:SENS4:CHAN1:UNIT:Y?") == y_replies[0]
    ctp.handle(":CTP:SENS4:CHAN1:UNIT:Y MW")
    assert ctp.handle(":CTP:SENS4:CHAN1:UNIT:Y?") == y_replies[1]
    assert ctp.handle(":CTP:SENS4:CHAN1:UNIT:X?") == x_replies[0]
    ctp.handle(":CTP:SENS4:CHAN1:UNIT:X FREQ")
    assert ctp.handle(":CTP:SENS4:CHAN1:UNIT:X?") == x_replies[1]


def test_power_in_mw_is_the_dbm_value_converted(clock: FakeClock) -> None:
    ctp = make(clock, unique_power=False)
    dbm = float(ctp.handle(":CTP:SENS4:CHAN1:POW?"))  # type: ignore[arg-type]
    ctp.handle(":CTP:SENS4:CHAN1:UNIT:Y MW")
    mw = float(ctp.handle(":CTP:SENS4:CHAN1:POW?"))  # type: ignore[arg-type]
    assert mw == pytest.approx(10 ** (dbm / 10), rel=1e-6)


def test_power_reply_with_unit_variant(clock: FakeClock) -> None:
    ctp = make(clock, power_reply="with_unit")
    value, unit = str(ctp.handle(":CTP:SENS4:CHAN1:POW?")).split(",")
    assert SCI.match(value) and unit == "DBM"
    ctp.handle(":CTP:SENS4:CHAN1:UNIT:Y MW")
    assert str(ctp.handle(":CTP:SENS4:CHAN1:POW?")).endswith(",MW")


def test_live_power_replies_are_all_distinct(ctp: SimulatedCTP10) -> None:
    replies = [ctp.handle(":CTP:SENS4:CHAN3:POW?") for _ in range(200)]
    assert len(set(replies)) == 200  # a stale reply read late is recognisable
    spread = max(map(float, replies)) - min(map(float, replies))  # type: ignore[arg-type]
    assert spread < 0.001


def test_channels_differ_through_drop_monitor(ctp: SimulatedCTP10) -> None:
    levels = [float(ctp.handle(f":CTP:SENS4:CHAN{c}:POW?")) for c in (1, 2, 3, 4)]  # type: ignore[arg-type]
    assert len({round(v, 1) for v in levels}) == 4
    assert all(-8.5 <= v <= -2.5 for v in levels)


def test_power_drops_as_the_fiber_offset_grows(ctp: SimulatedCTP10) -> None:
    powers = []
    for offset in (0.0, 1.0, 2.0, 3.0, 5.0):
        ctp.handle(f"SIM:COUP:OFFS {offset},0")
        powers.append(float(ctp.handle(":CTP:SENS4:CHAN1:POW?")))  # type: ignore[arg-type]
    assert powers == sorted(powers, reverse=True)
    assert powers[0] - powers[3] > 5.0  # 3 µm off a 2.5 µm mode: ≈ 6 dB
    ctp.handle("SIM:COUP:OFFS 3,0")
    monitor = float(ctp.handle(":CTP:SENS4:CHAN3:POW?"))  # type: ignore[arg-type]
    assert monitor == pytest.approx(-5.0, abs=0.01)  # the TLS IN monitor does not couple


def test_offset_drifts_slowly_and_deterministically(clock: FakeClock) -> None:
    def track() -> list[tuple[float, float]]:
        ctp = make(clock, drift=True, seed=3)
        points = []
        for _ in range(50):
            clock.t += 1.0
            points.append(ctp.offset_um)
        return points

    first, second = track(), track()
    assert first == second
    steps = np.hypot(*np.diff(np.array(first), axis=0).T)
    assert 0 < steps.max() < 1.0  # µm per second: slow
    assert np.hypot(*np.array(first).T).max() < 3.0  # it wanders around the set point


@pytest.mark.parametrize(
    ("under_range", "under", "over"),
    [("sentinel", "-9.91E37", "+9.91E37"), ("keysight", "-2.00000000E+002", "+9.91E37"),
     ("inf", "-INF", "INF")],
)
def test_floor_and_saturation_replies(
    clock: FakeClock, under_range: str, under: str, over: str
) -> None:
    ctp = make(clock, under_range=under_range)
    ctp.handle("SIM:COUP:OFFS 20,0")  # far off the waveguide: below -80 dBm
    assert ctp.handle(":CTP:SENS4:CHAN1:POW?") == under
    ctp.handle("SIM:LEV 4,3,12DBM")
    assert ctp.handle(":CTP:SENS4:CHAN3:POW?") == over
    ctp.handle("SIM:LEV 4,3,9.5")
    assert float(ctp.handle(":CTP:SENS4:CHAN3:POW?")) == pytest.approx(9.5, abs=0.01)  # type: ignore[arg-type]


def test_scan_takes_span_over_speed_divided_by_speedup(clock: FakeClock) -> None:
    ctp = make(clock, speedup=10)
    assert ctp.handle(":STAT:OPER:COND?") == "0"
    ctp.handle(":INIT:STAB 1,2")  # + 2 s settle: (40 nm / 20 nm/s + 2 s) / 10 = 0.4 s
    ctp.handle(":INIT")
    assert ctp.handle(":STAT:OPER:COND?") == "4"
    clock.t += 0.39
    assert ctp.handle(":STAT:OPERation:CONDition?") == "4"
    ctp.handle(":INIT")  # already scanning
    assert errors(ctp) == ['-213,"Init ignored"']
    clock.t += 0.02
    assert ctp.handle(":STAT:OPER:COND?") == "0"
    assert ctp.handle(":TRAC:SENS4:CHAN1:TYPE1:DATA:LENG?") == "40001"


def test_scan_time_uses_each_lasers_speed_over_its_overlap(clock: FakeClock) -> None:
    ctp = make(clock)
    # 1300–1600 nm: T200S 1300–1355 at 50 nm/s (1.1 s) + T100S-HP 1502–1600 at 40 nm/s (2.45 s)
    ctp.handle(":INIT:WAV:STOP 1600NM;:INIT:WAV:STAR 1300NM;:INIT:TLS2:SPE 50;:INIT:TLS1:SPE 40")
    ctp.handle(":INIT")
    clock.t += 3.54
    assert ctp.condition() == 4
    clock.t += 0.02
    assert ctp.condition() == 0


def test_late_scanning_bit_variant(clock: FakeClock) -> None:
    ctp = make(clock, scan_bit_delay_s=0.3, speedup=20)  # scan itself 2 s / 20 = 0.1 s
    ctp.handle(":INIT")
    assert ctp.condition() == 0  # not visible yet: a client must wait for it to appear
    clock.t += 0.31
    assert ctp.condition() == 4
    clock.t += 0.1
    assert ctp.condition() == 0


def test_abort_stops_the_scan_with_the_aborting_bit(clock: FakeClock) -> None:
    ctp = make(clock)
    ctp.handle(":INIT")
    clock.t += 0.5
    ctp.handle(":ABORt")
    assert ctp.condition() == 16
    clock.t += 0.3
    assert ctp.condition() == 0
    assert ctp.handle(":TRAC:SENS4:CHAN1:TYPE1:DATA:LENG?") == "0"  # no trace from an abort


def test_reference_sets_bit_64_and_stores_date_and_time(clock: FakeClock) -> None:
    ctp = make(clock)
    assert ctp.handle(":REF:SENS4:CHAN1:RES?") == "0"
    ctp.handle(":REFerence:SENSe4:CHANnel1:INITiate")
    assert ctp.condition() == 64 | 4
    assert ctp.handle(":REF:SENS4:CHAN1:RES?") == "0"
    clock.t += 2.0  # 40 nm at 20 nm/s
    assert ctp.condition() == 0
    assert ctp.handle(":REF:SENS4:CHAN1:RES?") == "1,0,20240305,140711"  # TF: type 0
    assert ctp.handle(":REF:SENS4:CHAN2:RES?") == "0"


def test_reference_laser_takes_two_seconds_to_switch_on(clock: FakeClock) -> None:
    ctp = make(clock, speedup=2)
    assert ctp.handle(":CTP:RLAS1:POW:STAT?") == "0"
    ctp.handle(":CTP:RLAS1:POW:STATe ON")
    clock.t += 0.99
    assert ctp.handle(":CTP:RLAS1:POW:STAT?") == "0"
    clock.t += 0.02
    assert ctp.handle(":CTP:RLAS1:POW:STAT?") == "1"
    ctp.handle(":CTP:RLAS1:POW:STAT OFF")
    assert ctp.handle(":CTP:RLAS1:POW:STAT?") == "0"


def _block_payload(block: bytes, trailer: bool = False) -> bytes:
    assert block[:1] == b"#"
    digits = int(block[1:2])
    count = int(block[2 : 2 + digits])
    payload = block[2 + digits : 2 + digits + count]
    assert len(block) == 2 + digits + count + (2 if trailer else 0)
    if trailer:
        assert block.endswith(b"\r\n")
    return payload


def _sweep(ctp: SimulatedCTP10, clock: FakeClock, commands: str) -> None:
    ctp.handle(commands)
    ctp.handle(":INIT")
    clock.t += 1000.0
    assert ctp.condition() == 0


def test_trace_content_has_microring_dips_and_reference_level(
    ctp: SimulatedCTP10, clock: FakeClock
) -> None:
    _sweep(ctp, clock, ":INIT:WAV:STAR 1520NM;:INIT:WAV:STOP 1570NM;:INIT:WAV:SAMP 2PM")
    assert ctp.handle(":TRAC:SENS4:CHAN1:TYPE1:DATA:LENG?") == "25001"
    assert ctp.handle(":TRAC:SENS4:CHAN1:TYPE1:DATA:STAR?") == "1.52000000E-006"
    assert ctp.handle(":TRAC:SENS4:CHAN1:TYPE1:DATA:SAMP?") == "2.00000000E-012"
    tf = np.frombuffer(_block_payload(ctp.handle(  # type: ignore[arg-type]
        ":TRAC:SENS4:CHAN1:TYPE1:DATA? BIN,DB")), ">f4")
    raw = np.frombuffer(_block_payload(ctp.handle(  # type: ignore[arg-type]
        ":TRACe:SENSe4:CHANnel1:TYPE11:DATA? BIN,DBM")), ">f4")
    ref = np.frombuffer(_block_payload(ctp.handle(  # type: ignore[arg-type]
        ":TRAC:SENS4:CHAN1:TYPE12:DATA?")), ">f4")
    x = np.frombuffer(_block_payload(ctp.handle(  # type: ignore[arg-type]
        ":TRAC:SENS4:CHAN1:TYPE1:DATA:X? BIN,M")), ">f8")
    assert tf.size == raw.size == ref.size == x.size == 25001
    assert x[0] == pytest.approx(1520e-9) and x[-1] == pytest.approx(1570e-9)
    baseline = np.median(tf)
    assert -8 < baseline < -3
    # dips: count the contiguous runs 5 dB below the baseline, FSR of a few nm
    deep = (tf < baseline - 5).astype(np.int8)
    starts = np.flatnonzero(np.diff(deep) == 1)
    dips = starts[np.diff(starts, prepend=-10_000) > 100]  # merge noise flicker within 0.2 nm
    assert 10 <= dips.size <= 25
    fsr_nm = np.median(np.diff(x[dips])) * 1e9
    assert 2.0 < fsr_nm < 5.0
    assert 5.0 <= baseline - tf.min() <= 30.0
    assert np.std(tf[:50] - np.mean(tf[:50])) < 0.05  # noise of ~0.01 dB, not a flat line
    assert np.std(tf[:50]) > 0.001
    assert np.allclose(raw, tf.astype(np.float64) + ref, atol=0.05)  # raw = TF + reference
    assert -10 < float(np.median(ref)) < 5


def test_drop_port_shows_peaks_and_monitors_are_flat(ctp: SimulatedCTP10, clock: FakeClock) -> None:
    _sweep(ctp, clock, ":INIT:WAV:SAMP 5PM")
    drop = np.frombuffer(_block_payload(ctp.handle(  # type: ignore[arg-type]
        ":TRAC:SENS4:CHAN2:TYPE1:DATA?")), ">f4")
    monitor = np.frombuffer(_block_payload(ctp.handle(  # type: ignore[arg-type]
        ":TRAC:SENS4:CHAN3:TYPE1:DATA?")), ">f4")
    assert drop.max() - np.median(drop) > 15
    assert np.ptp(monitor) < 0.2


def test_940001_point_trace_block_is_3760004_bytes(ctp: SimulatedCTP10, clock: FakeClock) -> None:
    _sweep(ctp, clock, ":INIT:WAV:STAR 1520NM;:INIT:WAV:STOP 1614NM;:INIT:WAV:SAMP 0.1PM")
    assert ctp.handle(":TRAC:SENS4:CHAN1:TYPE1:DATA:LENG?") == "940001"
    block = ctp.handle(":TRAC:SENS4:CHAN1:TYPE1:DATA? BIN,DB")
    assert isinstance(block, bytes) and block[:9] == b"#73760004"
    y = np.frombuffer(_block_payload(block), ">f4")
    assert y.size == 940001 and np.isfinite(y).all()
    assert ctp.handle(":TRAC:SENS4:CHAN1:TYPE1:DATA? BIN,DB") == block  # cached per sweep


def test_block_without_trailer_by_default(ctp: SimulatedCTP10, clock: FakeClock) -> None:
    _sweep(ctp, clock, "")
    block = ctp.handle(":TRAC:SENS4:CHAN1:TYPE1:DATA?")
    assert isinstance(block, bytes) and not block.endswith(b"\r\n")
    assert len(_block_payload(block)) == 4 * 40001


def test_block_trailer_variant(clock: FakeClock) -> None:
    ctp = make(clock, block_trailer=True)
    _sweep(ctp, clock, "")
    block = ctp.handle(":TRAC:SENS4:CHAN1:TYPE1:DATA?")
    assert isinstance(block, bytes)
    assert len(_block_payload(block, trailer=True)) == 4 * 40001
    # a trailer ends the whole message, not each block of a compound query
    two = ctp.handle(":TRAC:SENS4:CHAN1:TYPE1:DATA?;:TRAC:SENS4:CHAN1:TYPE1:DATA:LENG?")
    assert two == block[:-2] + b";40001\r\n"


def test_ascii_trace_matches_the_binary_one(ctp: SimulatedCTP10, clock: FakeClock) -> None:
    _sweep(ctp, clock, ":INIT:WAV:SAMP 20PM")
    text = ctp.handle(":TRAC:SENS4:CHAN1:TYPE1:DATA? ASCII,DB")
    binary = np.frombuffer(_block_payload(ctp.handle(  # type: ignore[arg-type]
        ":TRAC:SENS4:CHAN1:TYPE1:DATA? BIN,DB")), ">f4")
    assert isinstance(text, str)
    assert np.allclose(np.array(text.split(","), dtype=float), binary, atol=1e-5)


def test_new_sweep_gives_new_noise_same_rings(ctp: SimulatedCTP10, clock: FakeClock) -> None:
    _sweep(ctp, clock, ":INIT:WAV:SAMP 10PM")
    first = ctp.handle(":TRAC:SENS4:CHAN1:TYPE1:DATA?")
    _sweep(ctp, clock, "")
    second = ctp.handle(":TRAC:SENS4:CHAN1:TYPE1:DATA?")
    assert first != second
    a = np.frombuffer(_block_payload(first), ">f4")  # type: ignore[arg-type]
    b = np.frombuffer(_block_payload(second), ">f4")  # type: ignore[arg-type]
    assert np.abs(a - b).max() < 0.2


def test_no_trace_before_the_first_scan(ctp: SimulatedCTP10) -> None:
    assert ctp.handle(":TRAC:SENS4:CHAN1:TYPE1:DATA:LENG?") == "0"
    assert ctp.handle(":TRAC:SENS4:CHAN1:TYPE1:DATA?") == b"#10"


def test_failed_channel_garbles_only_itself(ctp: SimulatedCTP10) -> None:
    ctp.handle("SIM:FAUL:CHAN 4,2,1")
    reply = str(ctp.handle(":CTP:SENS4:CHAN1:POW?;:CTP:SENS4:CHAN2:POW?;:CTP:SENS4:CHAN3:POW?"))
    first, second, third = reply.split(";")
    assert second == "x#@!"
    float(first), float(third)
    ctp.handle("SIM:FAUL:CHAN 4,2,0")
    float(str(ctp.handle(":CTP:SENS4:CHAN2:POW?")))


def test_sim_extensions_change_the_model(ctp: SimulatedCTP10) -> None:
    ctp.handle("SIMulate:SERial CTP10-OTHER")
    assert ctp.handle("*IDN?") == "EXFO,CTP10,CTP10-OTHER,1.6.2.0"
    assert ctp.handle("SIM:SER?") == "CTP10-OTHER"
    ctp.handle("SIM:COUP:OFFS 1.5,-0.5")
    assert ctp.handle("SIM:COUP:OFFS?") == "1.5000,-0.5000"
    ctp.handle("SIM:DRIF 1")
    assert ctp.handle("SIM:DRIF?") == "1"
    ctp.handle("SIM:SPE 7;SIM:NOIS 0.05")
    assert ctp.handle("SIM:SPE?;SIM:NOIS?") == "7;0.05"
    assert ctp.handle("SIM:LEV? 4,1") == "-3.00000000E+000"
    ctp.handle("SIM:FAUL:DROP")  # link faults need a server
    assert errors(ctp) == ['-200,"Execution error"']
