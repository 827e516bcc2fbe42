"""Instrument text is escaped and length-limited before it reaches a label or a log line."""

from __future__ import annotations

import pytest

from ctp10_gui.hardware.ctp10 import CTP10, Identity
from ctp10_gui.hardware.errors import LinkError, LinkFailure
from ctp10_gui.hardware.instrument_text import INSTRUMENT_TEXT_LIMIT, printable
from ctp10_gui.hardware.replay import ReplayTransport


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("EXFO,CTP10,1234,1.0", "EXFO,CTP10,1234,1.0"),
        ("a\x1b[2Jb", "a\\x1b[2Jb"),
        ("line\r\nforged: ERROR", "line\\r\\nforged: ERROR"),
        ("tab\tnul\x00del\x7f", "tab\\tnul\\x00del\\x7f"),
        ("back\\slash", "back\\\\slash"),
        ("c1\x9bcontrol", "c1\\x9bcontrol"),
        ("sep\u2028arator", "sep\\u2028arator"),
        ("µ ü 1,5 dBm", "µ ü 1,5 dBm"),
    ],
)
def test_control_characters_are_escaped_and_the_rest_kept(raw: str, shown: str) -> None:
    assert printable(raw) == shown


def test_long_text_is_cut_to_the_limit_with_an_ellipsis() -> None:
    text = printable("X" * 2_000_000)
    assert text == "X" * INSTRUMENT_TEXT_LIMIT + "…"
    assert printable("\x1b" * 100, limit=10) == "\\x1b\\x1b…"  # never half an escape


def test_identity_and_error_text_enter_the_driver_escaped() -> None:
    identity = Identity.from_idn("EXFO,CTP10,\x1b[2J\rSN,1.0" + "9" * 500)
    assert identity.serial == "\\x1b[2J\\rSN"
    assert "\x1b" not in str(identity) and len(identity.raw) <= INSTRUMENT_TEXT_LIMIT + 1


def test_a_wrong_instrument_with_a_flood_of_text_is_named_briefly() -> None:
    idn = "ACME,\x1bSCOPE," + "Z" * 10_000
    ctp = CTP10(ReplayTransport([("*IDN?", idn)]))
    with pytest.raises(LinkError) as caught:
        ctp.connect()
    assert caught.value.kind is LinkFailure.WRONG_INSTRUMENT
    assert "\x1b" not in str(caught.value) and len(str(caught.value)) < 400


def test_error_queue_text_enters_the_driver_escaped() -> None:
    transport = ReplayTransport([("SYST:ERR?", '-113,"Undefined\x1b[31m header\r"'),
                                 ("SYST:ERR?", '0,"No error"')])
    transport.open()
    assert CTP10(transport).error_queue() == [(-113, "Undefined\\x1b[31m header\\r")]


def test_a_garbled_reply_is_named_escaped_and_briefly() -> None:
    transport = ReplayTransport([("*OPC?", "\x1b[2J" + "W" * 60_000)])
    transport.open()
    with pytest.raises(LinkError) as caught:
        CTP10(transport).probe()
    text = str(caught.value)
    assert caught.value.kind is LinkFailure.GARBLED
    assert "to '*OPC?': '\\x1b[2JWWW" in text and "\x1b" not in text and len(text) < 400
