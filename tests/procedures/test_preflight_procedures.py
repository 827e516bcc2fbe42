"""Sweep pre-flight replayed against exact SCPI exchanges: what is read, what is refused."""

from __future__ import annotations

import pytest
from procedure_helpers import COND

from ctp10_gui.hardware.replay import expected_protocol
from ctp10_gui.procedures.preflight import (
    AssignedLaser,
    SweepSetup,
    check_sweep,
    sweep_refusals,
)

T100S_HP_SPEEDS = "5–15, 17, 18, 20, 22, 25, 29, 33, 40, 50, 67, 100 nm/s"


def scan(start: str = "1.53E-6", stop: str = "1.57E-6", sampling: str = "1.0E-12",
         stab: str = "0,0") -> list[tuple[str, str | None]]:
    return [(":INIT:WAV:STAR?", start), (":INIT:WAV:STOP?", stop),
            (":INIT:WAV:SAMP?", sampling), (":INIT:STAB?", stab)]


def tls(n: int, position: int, idn: str = "", start: str = "", stop: str = "",
        speed: str = "20") -> list[tuple[str, str | None]]:
    pairs: list[tuple[str, str | None]] = [(f":INIT:TLS{n}:ID?", str(position))]
    if position == 0:
        return pairs
    if idn:  # the laser model is read once per connection
        pairs.append((f":CTP:RLAS{position}:IDN?", idn))
    return [*pairs, (f":INIT:TLS{n}:WAV:STAR?", start), (f":INIT:TLS{n}:WAV:STOP?", stop),
            (f":INIT:TLS{n}:SPE?", speed)]


C_BAND = "EXFO,T100S-HP,0,6.06"
O_BAND = "EXFO,T200S,0,6.06"
NO_OTHER_TLS = [*tls(2, 0), *tls(3, 0), *tls(4, 0)]


def test_a_tls_set_to_1502_1510_nm_cannot_serve_a_1530_1570_nm_scan() -> None:
    exchange = [*scan(), *tls(1, 1, C_BAND, "1.502E-6", "1.51E-6"), *NO_OTHER_TLS, (COND, "0")]
    with expected_protocol(exchange) as ctp:
        check = check_sweep(ctp)
    assert check.refusals == (
        "No assigned laser covers the scan 1530–1570 nm (TLS 1 1502–1510 nm): widen a TLS "
        "range or narrow the scan.",)
    assert check.plan.lasers == ((1, 20.0),)  # the duration is still known for the message


def test_the_simulator_default_setup_may_start() -> None:
    exchange = [*scan(), *tls(1, 1, C_BAND, "1.502E-6", "1.627E-6"),
                *tls(2, 2, O_BAND, "1.2625E-6", "1.355E-6"), *tls(3, 0), *tls(4, 0),
                (COND, "0")]
    with expected_protocol(exchange) as ctp:
        check = check_sweep(ctp)
    assert check.refusals == () and check.sentence() == ""
    assert check.plan.expected_s == pytest.approx(40 / 20)
    assert [laser.model for laser in check.setup.lasers] == ["T100S-HP", "T200S"]


def test_two_lasers_may_share_the_scan_but_a_gap_between_them_is_refused() -> None:
    exchange = [*scan("1.50E-6", "1.60E-6"),
                *tls(1, 1, C_BAND, "1.502E-6", "1.54E-6"),
                *tls(2, 3, "EXFO,T500S,0,1.0", "1.55E-6", "1.58E-6", speed="50"),
                *tls(3, 0), *tls(4, 0), (COND, "0")]
    with expected_protocol(exchange) as ctp:
        check = check_sweep(ctp)
    assert check.refusals == (
        "1500–1502 nm, 1540–1550 nm, 1580–1600 nm of the scan 1500–1600 nm is covered by no "
        "assigned laser (TLS 1 1502–1540 nm, TLS 2 1550–1580 nm): widen a TLS range or narrow "
        "the scan.",)


def test_a_speed_off_the_models_list_and_a_bad_sampling_are_refused_before_init() -> None:
    exchange = [*scan(sampling="3.0E-13"), *tls(1, 1, C_BAND, "1.502E-6", "1.627E-6", "16"),
                *NO_OTHER_TLS, (COND, "0")]
    with expected_protocol(exchange) as ctp:
        check = check_sweep(ctp)
    assert check.refusals == (
        f"TLS 1 sweeps at 16 nm/s, but a T100S-HP sweeps at {T100S_HP_SPEEDS} only, "
        "not 16 nm/s.",
        "The sampling step 0.3 pm is not one the CTP10 takes: one of 0.02, 0.05, 0.1, 0.2, "
        "0.5, 1…250 pm.",
    )


def test_a_running_scan_and_no_laser_at_all_are_both_said() -> None:
    exchange = [*scan(), *tls(1, 0), *NO_OTHER_TLS, (COND, "4")]
    with expected_protocol(exchange) as ctp:
        check = check_sweep(ctp)
    assert check.refusals == (
        "The instrument is already scanning (condition register 4): wait for it to finish or "
        "abort it first.",
        "No tunable laser is assigned (TLS 1–4 are all at laser position 0): assign one on the "
        "Tunable lasers tab.",
    )


def test_the_laser_model_is_read_once_per_connection() -> None:
    one_pass = [*scan(), *tls(1, 1, C_BAND, "1.502E-6", "1.627E-6"), *NO_OTHER_TLS, (COND, "0")]
    again = [*scan(), *tls(1, 1, "", "1.502E-6", "1.627E-6"), *NO_OTHER_TLS, (COND, "0")]
    with expected_protocol([*one_pass, *again]) as ctp:
        assert check_sweep(ctp).refusals == ()
        assert check_sweep(ctp).refusals == ()


def laser(tls_n: int, position: int, model: str | None, start: float, stop: float,
          speed: float = 20) -> AssignedLaser:
    return AssignedLaser(tls_n, position, model, start, stop, speed)


def test_settings_the_instrument_would_refuse() -> None:
    setup = SweepSetup(1570.0, 1530.0, 1.0, 0.0, (
        laser(1, 2, "T200S", 1250.0, 1355.0),  # below the T200S's 1262.5 nm
        laser(3, 2, "T200S", 1300.0, 1300.0),  # the same laser again, an empty range
    ), 0)
    assert sweep_refusals(setup) == [
        "The scan start 1570 nm is not below its stop 1530 nm.",
        "Laser 2 serves TLS 1 and TLS 3: one laser can serve one TLS only.",
        "TLS 1 is set to 1250–1355 nm, outside its T200S's 1262.5–1355 nm.",
        "TLS 3 starts at 1300 nm, not below its stop 1300 nm.",
    ]


def test_an_unknown_model_is_left_to_the_instrument() -> None:
    setup = SweepSetup(1530.0, 1570.0, 1.0, 0.0, (laser(1, 5, "X9000", 1240.0, 1680.0, 16),), 0)
    assert sweep_refusals(setup) == []
