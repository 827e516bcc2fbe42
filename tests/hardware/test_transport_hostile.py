"""VisaTransport against instruments that misbehave on purpose: every reply is bounded in time
and size, the host lookup in the open timeout, and abort() breaks any wait at once."""

from __future__ import annotations

import logging
import socket
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator

import pytest
from hostile_instrument import IDN, hostile_fixture  # noqa: F401  (the fixture "hostile")

from ctp10_gui.hardware.errors import LinkError, LinkFailure
from ctp10_gui.hardware.transport import MAX_LINE_BYTES, VisaTransport

IO_S = 0.5
MARGIN_S = 0.5  # scheduling on a loaded 2-core machine
BLOCK_QUERY = ":TRAC:SENS4:CHAN1:TYPE1:DATA? BIN,DB"


@pytest.fixture
def transports() -> Iterator[list[VisaTransport]]:
    made: list[VisaTransport] = []
    yield made
    for transport in made:
        transport.close()


def opened(address: str, made: list[VisaTransport], **options: object) -> VisaTransport:
    options.setdefault("io_timeout_s", IO_S)
    options.setdefault("open_timeout_s", 1.0)
    transport = VisaTransport(address, **options)  # type: ignore[arg-type]
    made.append(transport)
    transport.open()
    assert transport.query("*IDN?").startswith("EXFO,CTP10")
    return transport


def abort_later(transport: VisaTransport, after_s: float) -> threading.Timer:
    timer = threading.Timer(after_s, transport.abort)
    timer.daemon = True
    timer.start()
    return timer


def test_a_dripping_reply_times_out_at_its_total_deadline_naming_the_query(
        hostile, transports) -> None:
    server = hostile("drip", drip_s=0.2)
    transport = opened(server.address, transports)
    start = time.monotonic()
    with pytest.raises(LinkError) as caught:
        transport.query(":CTP:SENS4:CHAN1:POW?")  # 7 bytes: 1.4 s at one byte per 200 ms
    elapsed = time.monotonic() - start
    assert IO_S - 0.05 <= elapsed < IO_S + MARGIN_S
    assert caught.value.kind is LinkFailure.TIMEOUT
    assert "within 0.5 s to ':CTP:SENS4:CHAN1:POW?' (incomplete: only" in str(caught.value)
    assert not transport.is_open


def test_an_endless_line_is_refused_as_garbled_with_flat_memory(hostile, transports) -> None:
    server = hostile("endless_line")
    transport = opened(server.address, transports, io_timeout_s=5.0)
    tracemalloc.start()
    start = time.monotonic()
    try:
        with pytest.raises(LinkError) as caught:
            transport.query("*OPC?")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - start < 1.0
    assert caught.value.kind is LinkFailure.GARBLED
    assert f"a reply longer than {MAX_LINE_BYTES} bytes" in str(caught.value)
    assert peak < 1_000_000, f"{peak} bytes held for a refused line"


def test_a_huge_idn_is_refused_without_reading_it_whole(hostile, transports) -> None:
    server = hostile("huge_idn")
    transport = VisaTransport(server.address, io_timeout_s=5.0, open_timeout_s=1.0)
    transports.append(transport)
    transport.open()
    start = time.monotonic()
    with pytest.raises(LinkError) as caught:
        transport.query("*IDN?")
    assert time.monotonic() - start < 1.0
    assert caught.value.kind is LinkFailure.GARBLED


@pytest.mark.parametrize("expected", [160_000, None], ids=["LENGth-said", "no-size-given"])
def test_a_giant_block_is_refused_from_its_header(hostile, transports,
                                                  expected: int | None) -> None:
    server = hostile("giant_block")
    transport = opened(server.address, transports, io_timeout_s=5.0)
    tracemalloc.start()
    start = time.monotonic()
    try:
        with pytest.raises(LinkError) as caught:
            transport.query_block(BLOCK_QUERY, timeout_s=30.0, expected_bytes=expected)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - start < 1.0
    assert caught.value.kind is LinkFailure.GARBLED
    assert "a block of 300000000 bytes where at most" in str(caught.value)
    assert peak < 1_000_000, f"{peak} bytes held for a refused block"


def test_a_stalled_ten_gigabyte_header_is_refused_at_once(hostile, transports) -> None:
    server = hostile("stall_block")
    transport = opened(server.address, transports, io_timeout_s=5.0)
    start = time.monotonic()
    with pytest.raises(LinkError) as caught:
        transport.query_block(BLOCK_QUERY, timeout_s=30.0)
    assert time.monotonic() - start < 0.5
    assert "a block of 999999999 bytes where at most" in str(caught.value)


def test_a_block_stalling_after_its_header_times_out_scaled_to_its_size(
        hostile, transports) -> None:
    server = hostile("stall_after_header", points=250_000)  # 1 MB: 1 s at the slowest rate
    transport = opened(server.address, transports)
    start = time.monotonic()
    with pytest.raises(LinkError) as caught:
        transport.query_block(BLOCK_QUERY, timeout_s=30.0, expected_bytes=1_000_000)
    elapsed = time.monotonic() - start
    assert IO_S + 1.0 - 0.05 <= elapsed < IO_S + 1.0 + MARGIN_S
    assert caught.value.kind is LinkFailure.TIMEOUT
    assert (f"within 1.5 s to {BLOCK_QUERY!r} (incomplete: only 1000 of 1000000 bytes of the "
            "block arrived)") in str(caught.value)


@pytest.mark.parametrize("mode", ["idn_then_silent", "drip", "stall_block"])
def test_abort_from_another_thread_breaks_a_blocked_read_at_once(hostile, transports,
                                                                 mode: str) -> None:
    server = hostile(mode)
    transport = opened(server.address, transports, io_timeout_s=30.0)
    abort_later(transport, 0.2)
    start = time.monotonic()
    with pytest.raises(LinkError) as caught:
        if mode == "stall_block":
            transport.query_block(BLOCK_QUERY, timeout_s=30.0, expected_bytes=10**12)
        else:
            transport.query("*OPC?")
    assert time.monotonic() - start < 0.2 + 0.3
    assert caught.value.kind is LinkFailure.NOT_OPEN
    assert "closed by the application while waiting for the reply to" in str(caught.value)
    assert not transport.is_open
    with pytest.raises(LinkError):
        transport.open()  # an aborted transport stays down: its owner makes a new one


def _silent_resolver(release: threading.Event, asked: threading.Event) -> Callable[..., str]:
    def resolve(host: str, port: int) -> str:
        asked.set()
        release.wait()
        return "127.0.0.1"

    return resolve


def test_a_silent_resolver_fails_within_the_open_timeout(transports) -> None:
    release, asked = threading.Event(), threading.Event()
    transport = VisaTransport("lab-ctp10", io_timeout_s=IO_S, open_timeout_s=0.4,
                              resolver=_silent_resolver(release, asked))
    transports.append(transport)
    start = time.monotonic()
    try:
        with pytest.raises(LinkError) as caught:
            transport.open()
    finally:
        release.set()
    elapsed = time.monotonic() - start
    assert asked.is_set() and 0.35 <= elapsed < 0.4 + MARGIN_S
    assert str(caught.value) == ("cannot reach lab-ctp10:5025 (no answer looking up "
                                 "'lab-ctp10' within 0.4 s)")


def test_abort_cancels_a_host_lookup_at_once(transports) -> None:
    release, asked = threading.Event(), threading.Event()
    transport = VisaTransport("lab-ctp10", io_timeout_s=IO_S, open_timeout_s=30.0,
                              resolver=_silent_resolver(release, asked))
    transports.append(transport)
    abort_later(transport, 0.2)
    start = time.monotonic()
    try:
        with pytest.raises(LinkError) as caught:
            transport.open()
    finally:
        release.set()
    assert time.monotonic() - start < 0.2 + 0.3
    assert "closed by the application while looking up 'lab-ctp10'" in str(caught.value)


def test_the_resolved_address_is_the_one_connected(hostile, transports) -> None:
    server = hostile("sane")
    looked_up: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> str:
        looked_up.append((host, port))
        return "127.0.0.1"

    transport = opened(f"lab-ctp10:{server.port}", transports, resolver=resolve)
    assert looked_up == [("lab-ctp10", server.port)]
    assert transport.address == f"TCPIP::lab-ctp10::{server.port}::SOCKET"
    assert transport.query("*IDN?") == IDN


def test_control_characters_from_the_instrument_never_reach_the_log_raw(
        hostile, transports, caplog) -> None:
    server = hostile("control_idn")
    transport = VisaTransport(server.address, io_timeout_s=IO_S, open_timeout_s=1.0)
    transports.append(transport)
    transport.open()
    with caplog.at_level(logging.DEBUG, logger="ctp10_gui.scpi"):
        reply = transport.query("*IDN?")
    assert "\x1b" in reply  # the driver gets what was sent; only logs and labels are escaped
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("<- ")]
    assert logged == ["<- EXFO,CTP10,\\x1b[2J\\rERROR forged line,1.0"]


def test_the_nan_mode_answers_setting_reads_with_nan_and_detectors_with_numbers(
        hostile, transports) -> None:
    server = hostile("nan_settings")
    transport = opened(server.address, transports)
    assert transport.query(":INIT:TLS1:POW?") == "NaN"
    assert transport.query(":CTP:RLAS1:WAV?") == "NaN"
    assert transport.query(":CTP:SENS4:CHAN1:POW?") == "-10.0"


def test_a_peer_that_never_reads_fails_a_send_at_its_deadline(transports) -> None:
    listener = socket.create_server(("127.0.0.1", 0))  # the kernel accepts; nobody reads
    try:
        transport = VisaTransport(f"127.0.0.1:{listener.getsockname()[1]}",
                                  io_timeout_s=IO_S, open_timeout_s=1.0)
        transports.append(transport)
        transport.open()
        start = time.monotonic()
        with pytest.raises(LinkError) as caught:
            transport.write("X" * 50_000_000)  # more than both socket buffers hold
        elapsed = time.monotonic() - start
    finally:
        listener.close()
    assert elapsed < IO_S + MARGIN_S
    assert caught.value.kind is LinkFailure.TIMEOUT
    assert "the instrument took no more of 'XXXX" in str(caught.value)
    assert len(str(caught.value)) < 600
