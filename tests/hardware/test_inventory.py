"""The inventory read at connect: *OPT? slots, channels probed without waiting, lasers; replayed
exactly and read from the simulator over TCP."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ctp10_gui.hardware.ctp10 import CTP10
from ctp10_gui.hardware.errors import LinkError, LinkFailure
from ctp10_gui.hardware.inventory import Inventory, parse_options, read_inventory
from ctp10_gui.hardware.replay import expected_protocol
from ctp10_gui.hardware.transport import VisaTransport
from ctp10_gui.simulator import SimulatorServer

IDN_TEXT = "EXFO,CTP10,SN0042,1.2.3"
IDN = ("*IDN?", IDN_TEXT)
NO_ERROR = ("SYST:ERR?", "0,No error")
MISSING = ("SYST:ERR?", '-241,"Hardware missing"')


def answered(command: str, reply: str) -> list[tuple[str | None, str | None]]:
    """Return the exchange of a probe that got a reply: command, *IDN?, the reply, the identity."""
    return [(command, None), ("*IDN?", None), (None, reply), (None, IDN_TEXT)]


def silent(command: str, *errors: tuple[str, str]) -> list[tuple[str | None, str | None]]:
    """Return the exchange of a probe that got no reply: the identity at once, errors drained."""
    return [(command, None), ("*IDN?", None), (None, IDN_TEXT), *errors, NO_ERROR]


def options(*occupied: tuple[int, str]) -> str:
    """Return a positional *OPT? reply: 20 fields, "0" where the slot is empty."""
    names = dict(occupied)
    return ",".join(names.get(slot, "0") for slot in range(1, 21))


def unit(module: int, channel: int) -> str:
    return f":CTP:SENS{module}:CHAN{channel}:UNIT:Y?"


def lasers(*models: str) -> list[tuple[str | None, str | None]]:
    """Return the laser probes: positions 1.. with these identities, the rest "NONE"."""
    exchange: list[tuple[str | None, str | None]] = []
    for r in range(1, 11):
        idn = f"EXFO,{models[r - 1]},0,6.06" if r <= len(models) else "NONE"
        exchange += answered(f":CTP:RLAS{r}:IDN?", idn)
    return exchange


def test_slots_come_from_opt_and_channels_from_probing_up_to_the_first_silent_one() -> None:
    exchange = [
        IDN,
        *answered("*OPT?", options((4, "IL RL OPM2"), (6, "IL RL OPM2"), (9, "SCAN SYNC"))),
        *[step for c in range(1, 5) for step in answered(unit(4, c), "0")],
        *silent(unit(4, 5), MISSING),
        *[step for c in range(1, 7) for step in answered(unit(6, c), "DBM")],  # all six
        *silent(unit(9, 1), MISSING),  # a module without detectors
        *lasers("T100S-HP", "T200S"),
    ]
    with expected_protocol(exchange, connect=True) as ctp:
        inventory = read_inventory(ctp)
        assert ctp.session.laser_models == {1: "T100S-HP", 2: "T200S",
                                            **{r: None for r in range(3, 11)}}
    assert inventory == Inventory({4: 4, 6: 6}, {4: "IL RL OPM2", 6: "IL RL OPM2",
                                                 9: "SCAN SYNC"}, {1: "T100S-HP", 2: "T200S"})
    assert inventory.channels(4) == (1, 2, 3, 4) and inventory.channels(3) == ()


def test_a_short_opt_reply_names_no_slots_so_every_slot_is_probed() -> None:
    exchange = [IDN, *answered("*OPT?", "IL RL OPM2")]
    for module in range(1, 21):
        if module == 2:
            exchange += [step for c in (1, 2) for step in answered(unit(2, c), "1")]
            exchange += silent(unit(2, 3), MISSING)
        else:
            exchange += silent(unit(module, 1), MISSING)
    exchange += lasers()
    with expected_protocol(exchange, connect=True) as ctp:
        inventory = read_inventory(ctp)
    assert inventory.known and dict(inventory.detectors) == {2: 2} and not inventory.lasers


def test_an_instrument_without_opt_and_no_answering_detector_is_unknown_and_offers_all() -> None:
    exchange = [IDN, *silent("*OPT?", ('SYST:ERR?', '-113,"Undefined header"'))]
    for module in range(1, 21):
        exchange += silent(unit(module, 1), ('SYST:ERR?', '-113,"Undefined header"'))
    exchange += lasers()
    with expected_protocol(exchange, connect=True) as ctp:
        inventory = read_inventory(ctp)
    assert not inventory.known
    assert inventory.channels(7) == (1, 2, 3, 4, 5, 6) and inventory.module_refusal(7) == ""


def test_a_reply_after_which_the_identity_does_not_follow_is_an_out_of_step_stream() -> None:
    exchange = [IDN, ("*OPT?", None), ("*IDN?", None), (None, options()), (None, "1")]
    with expected_protocol(exchange, connect=True) as ctp:
        with pytest.raises(LinkError) as caught:
            read_inventory(ctp)
        assert caught.value.kind is LinkFailure.GARBLED
        assert not ctp.transport.is_open


def test_opt_fields_are_read_by_position_with_quotes_and_blanks_tolerated() -> None:
    assert parse_options(options((3, '"IL RL OPM2"'))) == {3: "IL RL OPM2"}
    assert parse_options(" 0 ," * 19 + " NONE ") == {}
    assert parse_options("0") is None and parse_options(options() + ",0") is None


@pytest.mark.parametrize(("module", "channels", "sentence"), [
    (3, (1,), "Module 3 is empty; detector modules are in slots 4 and 6."),
    (9, (1,), "Module 9 (SCAN SYNC) has no detectors; detector modules are in slots 4 and 6."),
    (4, (1, 5), "Module 4 has channels 1–4: channel 5 is not installed."),
    (4, (5, 6), "Module 4 has channels 1–4: channels 5 and 6 are not installed."),
    (6, (1, 2, 3), ""),
])
def test_a_pick_that_is_not_installed_is_refused_with_a_sentence_naming_what_is(
        module: int, channels: tuple[int, ...], sentence: str) -> None:
    inventory = Inventory({4: 4, 6: 6}, {4: "IL RL OPM2", 6: "IL RL OPM2", 9: "SCAN SYNC"})
    assert inventory.channel_refusal(module, channels) == sentence
    assert Inventory({2: 1}).channel_refusal(2, (2,)) == (
        "Module 2 has channel 1 only: channel 2 is not installed.")
    assert Inventory({2: 1}).module_refusal(5) == (
        "Module 5 is empty; the detector module is in slot 2.")
    assert Inventory().module_refusal(5) == (
        "Module 5 is empty; this CTP10 reports no detector module.")


# -- the simulator over TCP -----------------------------------------------------------------------


@pytest.mark.parametrize("unit_reply", ["number", "text"])
def test_the_simulator_with_an_empty_slot_reads_as_installed_over_tcp(
        sim_factory: Callable[..., SimulatorServer], unit_reply: str) -> None:
    sim = sim_factory(modules=(4, 6), channels_per_module=4, unit_reply=unit_reply)
    ctp = CTP10(VisaTransport(sim.address))
    ctp.connect()
    try:
        inventory = read_inventory(ctp)
        # The stream is in step after the silent probes: the next query gets its own reply.
        assert ctp.query("*OPC?") == "1"
        assert ctp.error_queue() == []
    finally:
        ctp.close()
    assert dict(inventory.detectors) == {4: 4, 6: 4}
    assert dict(inventory.lasers) == {1: "T100S-HP", 2: "T200S"}
    assert inventory.module_refusal(3) == (
        "Module 3 is empty; detector modules are in slots 4 and 6.")
    assert inventory.channel_refusal(4, (5,)) == (
        "Module 4 has channels 1–4: channel 5 is not installed.")
