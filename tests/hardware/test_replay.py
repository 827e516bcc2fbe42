"""The replay transport fails on every deviation from its script, so its tests can be trusted."""

from __future__ import annotations

import pytest

from ctp10_gui.hardware.errors import LinkError, LinkFailure
from ctp10_gui.hardware.replay import ReplayTransport, expected_protocol, ieee_block


def opened(exchange: list) -> ReplayTransport:
    transport = ReplayTransport(exchange)
    transport.open()
    return transport


def test_plays_queries_and_writes_in_order() -> None:
    transport = opened([("*IDN?", "EXFO,CTP10,1,2"), ("*CLS", None)])
    assert transport.query("*IDN?") == "EXFO,CTP10,1,2"
    transport.write("*CLS")
    transport.assert_done()


def test_reply_may_be_its_own_pair_like_pymeasure() -> None:
    transport = opened([("*OPC?", None), (None, "1")])
    assert transport.query("*OPC?") == "1"
    transport.assert_done()


def test_mismatched_command_fails_naming_step_and_both_sides() -> None:
    transport = opened([("*CLS", None), ("*IDN?", "x")])
    transport.write("*CLS")
    with pytest.raises(AssertionError, match=r"step 1: expected '\*IDN\?', driver sent '\*OPC\?'"):
        transport.query("*OPC?")


def test_extra_exchange_after_the_script_fails() -> None:
    transport = opened([("*OPC?", "1")])
    transport.query("*OPC?")
    with pytest.raises(AssertionError, match="after the end of the script"):
        transport.query("*OPC?")


def test_query_where_a_write_was_scripted_fails() -> None:
    transport = opened([("*CLS", None)])
    with pytest.raises(AssertionError, match="script has it as a write"):
        transport.query("*CLS")


def test_write_where_a_query_was_scripted_fails_once_the_driver_moves_on() -> None:
    transport = opened([("*OPC?", "1"), ("*CLS", None)])
    transport.write("*OPC?")  # maybe a query split in two: its receive() may follow
    with pytest.raises(AssertionError, match="a query was expected"):
        transport.write("*CLS")
    transport = opened([("*OPC?", "1")])
    transport.write("*OPC?")
    with pytest.raises(AssertionError, match="a query was expected"):
        transport.assert_done()


def test_a_query_may_be_split_into_write_and_receive() -> None:
    transport = opened([("*OPC?", "1"), ("*IDN?", None), (None, "EXFO,CTP10,1,2")])
    transport.write("*OPC?")
    assert transport.receive("*OPC?") == "1"
    transport.write("*IDN?")
    assert transport.receive("*IDN?") == "EXFO,CTP10,1,2"
    transport.assert_done()


def test_receive_without_its_write_fails() -> None:
    transport = opened([("*OPC?", "1"), ("*CLS", None)])
    with pytest.raises(AssertionError, match="no query"):
        transport.receive("*OPC?")
    transport.write("*OPC?")
    with pytest.raises(AssertionError, match=r"last exchange was '\*OPC\?'"):
        transport.receive("*IDN?")


def test_leftover_pair_fails_assert_done() -> None:
    transport = opened([("*OPC?", "1"), ("*CLS", None)])
    transport.query("*OPC?")
    with pytest.raises(AssertionError, match=r"1 pair\(s\) never played"):
        transport.assert_done()


def test_expected_protocol_fails_on_leftover_pairs() -> None:
    with pytest.raises(AssertionError, match="never played"), expected_protocol([("*OPC?", "1")]):
        pass


def test_scripted_exception_is_raised_and_closes_the_session() -> None:
    error = LinkError("TCPIP::replay::5025::SOCKET", LinkFailure.TIMEOUT, "within 1 s")
    transport = opened([("*OPC?", error)])
    with pytest.raises(LinkError) as caught:
        transport.query("*OPC?")
    assert caught.value is error
    assert not transport.is_open


def test_io_on_a_closed_session_is_a_not_open_link_error() -> None:
    transport = ReplayTransport([("*OPC?", "1")])
    with pytest.raises(LinkError) as caught:
        transport.query("*OPC?")
    assert caught.value.kind is LinkFailure.NOT_OPEN
    assert "replay:5025" in str(caught.value)


def test_binary_block_is_unframed_with_or_without_trailer() -> None:
    payload = b"\x0a\x0d#1\x00"
    transport = opened([("A?", ieee_block(payload)), ("B?", ieee_block(payload, trailer=b""))])
    assert transport.query_block("A?", 5.0) == payload
    assert transport.query_block("B?", 5.0) == payload


def test_short_block_is_garbled() -> None:
    transport = opened([("A?", b"#210abc")])
    with pytest.raises(LinkError) as caught:
        transport.query_block("A?", 5.0)
    assert caught.value.kind is LinkFailure.GARBLED
    assert not transport.is_open


def test_further_lines_after_a_read_are_read_as_the_replies_to_queries_sent_as_writes() -> None:
    transport = opened([("UNIT?", None), ("*IDN?", None), (None, "0"), (None, "EXFO,CTP10,1,2")])
    transport.write("UNIT?")
    transport.write("*IDN?")
    assert transport.receive("*IDN?") == "0"
    assert transport.receive("*IDN?") == "EXFO,CTP10,1,2"
    transport.assert_done()
    with pytest.raises(AssertionError, match="no query"):  # only the lines the script has
        transport.receive("*IDN?")
