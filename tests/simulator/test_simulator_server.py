"""The simulator over loopback TCP: framing, blocks, clients, every fault as a client sees it."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest
import pyvisa
from pyvisa.errors import VisaIOError

from ctp10_gui.simulator import SimulatorServer

Factory = Callable[..., SimulatorServer]


@pytest.fixture
def visa() -> Iterator[Callable[[str], pyvisa.resources.MessageBasedResource]]:
    """Open pyvisa-py sessions (CR LF both ways); closed after the test, the RM stays shared."""
    rm = pyvisa.ResourceManager("@py")
    opened: list[pyvisa.resources.MessageBasedResource] = []

    def open_session(address: str) -> pyvisa.resources.MessageBasedResource:
        session = rm.open_resource(
            address, read_termination="\r\n", write_termination="\r\n", timeout=2000,
            open_timeout=1000,
        )
        opened.append(session)
        return session

    yield open_session
    for session in opened:
        session.close()


def wait_until(
    predicate: Callable[[], bool], timeout_s: float = 2.0, poll_s: float = 0.01
) -> float:
    """Poll until predicate() is true; return the elapsed seconds or fail at the deadline."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout_s:
            pytest.fail(f"condition not met within {timeout_s} s")
        time.sleep(poll_s)  # bounded poll of a real server: the only wait these tests use
    return time.monotonic() - start


def read_block(session: pyvisa.resources.MessageBasedResource, command: str,
               trailer: bool) -> bytes:
    """Read an IEEE 488.2 block with the read termination off, like the driver must."""
    session.read_termination = None
    try:
        session.write(command)
        assert session.read_bytes(1) == b"#"
        digits = int(session.read_bytes(1))
        count = int(session.read_bytes(digits))
        payload = session.read_bytes(count)
        if trailer:
            assert session.read_bytes(2) == b"\r\n"
        return payload
    finally:
        session.read_termination = "\r\n"


# ---------------------------------------------------------------- protocol over TCP


def test_pyvisa_queries_with_cr_lf(sim: SimulatorServer, visa: Callable) -> None:
    session = visa(sim.address)
    assert session.query("*IDN?") == "EXFO,CTP10,CTP10-SIM-0001,1.6.2.0"
    assert session.query(":init:wav:star?") == "1.53000000E-006"
    reply = session.query(":CTP:SENS4:CHAN1:POW?;:CTP:SENS4:CHAN2:POW?;:CTP:SENS4:CHAN3:POW?;"
                          ":CTP:SENS4:CHAN4:POW?")
    assert len([float(v) for v in reply.split(";")]) == 4
    session.write(":INIT:TLS2:SPE 7")
    assert session.query("SYST:ERR?") == '-222,"Data out of range"'


def test_address_and_port_zero(sim: SimulatorServer) -> None:
    assert sim.port > 0
    assert sim.address == f"TCPIP::127.0.0.1::{sim.port}::SOCKET"


def test_compound_rejected_over_tcp(sim_factory: Factory, raw_client: Callable) -> None:
    client = raw_client(sim_factory(compound=False).address)
    client.send("*IDN?;*OPC?")
    with pytest.raises(TimeoutError):
        client.read_line(0.2)  # no reply at all
    assert client.query("SYST:ERR?") == '-113,"Undefined header"'


def test_sweep_sets_the_scanning_bit_for_span_over_speed(sim: SimulatorServer,
                                                         raw_client: Callable) -> None:
    client = raw_client(sim.address)
    client.send(":INIT:WAV:STAR 1530NM;:INIT:WAV:STOP 1580NM;:INIT:TLS1:SPE 10")  # 5 s / 50
    start = time.monotonic()
    client.send(":INIT")
    assert int(client.query(":STAT:OPER:COND?")) & 4
    elapsed = wait_until(lambda: client.query(":STAT:OPER:COND?") == "0")
    assert time.monotonic() - start >= 0.08 and elapsed < 0.5
    assert client.query(":TRAC:SENS4:CHAN1:TYPE1:DATA:LENG?") == "50001"


@pytest.mark.parametrize("trailer", [True, False])
def test_940001_point_trace_over_pyvisa(sim_factory: Factory, visa: Callable,
                                        trailer: bool) -> None:
    sim = sim_factory(block_trailer=trailer)
    session = visa(sim.address)
    session.write(":INIT:WAV:STAR 1520NM;:INIT:WAV:STOP 1614NM;:INIT:WAV:SAMP 0.1PM")
    session.write(":INIT")  # 94 nm at 20 nm/s / 50 = 94 ms
    wait_until(lambda: session.query(":STAT:OPER:COND?") == "0")
    assert session.query(":TRAC:SENS4:CHAN1:TYPE1:DATA:LENG?") == "940001"
    payload = read_block(session, ":TRAC:SENS4:CHAN1:TYPE1:DATA? BIN,DB", trailer)
    assert len(payload) == 3_760_004
    y = np.frombuffer(payload, ">f4")
    assert np.isfinite(y).all() and -60 < y.min() < y.max() < 0
    x = np.frombuffer(read_block(session, ":TRAC:SENS4:CHAN1:TYPE1:DATA:X? BIN,M", trailer), ">f8")
    assert x.size == 940001 and x[0] == pytest.approx(1520e-9) and x[-1] == pytest.approx(1614e-9)
    assert session.query("*OPC?") == "1"  # nothing left in the stream


# ---------------------------------------------------------------- clients


def test_second_client_is_closed_while_one_is_connected(sim: SimulatorServer,
                                                        raw_client: Callable) -> None:
    first = raw_client(sim.address)
    assert first.query("*OPC?") == "1"
    second = raw_client(sim.address)
    second.send("*IDN?")
    assert second.read_until_eof(1.0) == b""  # closed by the server without a reply
    assert first.query("*OPC?") == "1"
    first.close()
    third = raw_client(sim.address)  # the slot is free again at once
    assert third.query("*OPC?") == "1"


def test_several_clients_variant(sim_factory: Factory, raw_client: Callable) -> None:
    sim = sim_factory(max_clients=3)
    sessions = [raw_client(sim.address) for _ in range(3)]
    assert [s.query("*OPC?") for s in sessions] == ["1", "1", "1"]
    assert sim.client_count == 3
    assert not sim.wait_for_client_count(0, 0.05)  # all three stay: the wait gives up


def test_stop_is_fast_and_closes_every_client(sim_factory: Factory, raw_client: Callable) -> None:
    sim = sim_factory(max_clients=2)
    idle, stuck = raw_client(sim.address), raw_client(sim.address)
    idle.query("*OPC?")
    stuck.send(":INIT:WAV:STAR 1520NM;:INIT:WAV:STOP 1614NM;:INIT:WAV:SAMP 0.1PM;:INIT")
    wait_until(lambda: idle.query(":STAT:OPER:COND?") == "0")
    for _ in range(4):  # 15 MB requested and never read: the server blocks in sendall
        stuck.send(":TRAC:SENS4:CHAN1:TYPE1:DATA?")
    sim.faults.pause()
    start = time.monotonic()
    sim.stop()
    assert time.monotonic() - start < 0.5
    assert idle.read_until_eof(1.0) == b""
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", sim.port), timeout=1.0)


# ---------------------------------------------------------------- faults


def test_pause_stalls_with_the_socket_open_then_answers(sim: SimulatorServer,
                                                         visa: Callable) -> None:
    session = visa(sim.address)
    session.query("*OPC?")
    sim.faults.pause()
    session.timeout = 200
    session.write("*IDN?")
    with pytest.raises(VisaIOError) as info:
        session.read()
    assert info.value.error_code == pyvisa.constants.StatusCode.error_timeout
    sim.faults.resume()
    assert session.read() == "EXFO,CTP10,CTP10-SIM-0001,1.6.2.0"  # answered late, in order


def test_remote_pause_lasts_its_seconds(sim: SimulatorServer, raw_client: Callable) -> None:
    client = raw_client(sim.address)
    client.send("SIM:FAUL:PAUS 0.3")
    start = time.monotonic()
    client.send("*OPC?")
    with pytest.raises(TimeoutError):
        client.read_line(0.1)
    assert client.read_line(1.0) == b"1"
    assert 0.25 < time.monotonic() - start < 0.8


@pytest.mark.parametrize("remote", [False, True])
def test_drop_closes_with_fin(sim: SimulatorServer, raw_client: Callable, remote: bool) -> None:
    client = raw_client(sim.address)
    assert client.query("*OPC?") == "1"
    if remote:
        client.send("SIM:FAUL:DROP")
    else:
        assert sim.faults.drop_connections() == 1
    assert client.read_until_eof(1.0) == b""  # orderly EOF, no reset
    assert sim.wait_for_client_count(0, 2.0)
    assert raw_client(sim.address).query("*OPC?") == "1"


@pytest.mark.parametrize("remote", [False, True])
def test_reset_aborts_with_rst(sim: SimulatorServer, raw_client: Callable, remote: bool) -> None:
    client = raw_client(sim.address)
    assert client.query("*OPC?") == "1"
    if remote:
        client.send("SIM:FAUL:RST")
    else:
        assert sim.faults.reset_connections() == 1
    with pytest.raises(ConnectionResetError):
        client.read_until_eof(1.0)


def test_refuse_then_listen_again_on_the_same_port(sim: SimulatorServer,
                                                   raw_client: Callable) -> None:
    connected = raw_client(sim.address)
    sim.faults.stop_listening()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", sim.port), timeout=1.0)
    assert connected.query("*OPC?") == "1"  # existing clients keep working
    connected.close()
    sim.faults.start_listening()
    assert raw_client(sim.address).query("*OPC?") == "1"


def test_remote_refuse_for_seconds(sim: SimulatorServer, raw_client: Callable) -> None:
    client = raw_client(sim.address)
    client.send("SIM:FAUL:REF 0.3")
    assert client.query("*OPC?") == "1"
    client.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", sim.port), timeout=1.0)

    def accepts() -> bool:
        try:
            raw_client(sim.address).close()
        except ConnectionRefusedError:
            return False
        return True

    assert 0.1 < wait_until(accepts) < 1.0


@pytest.mark.parametrize("remote", [False, True])
def test_garbage_replaces_the_next_replies(sim: SimulatorServer, raw_client: Callable,
                                           remote: bool) -> None:
    client = raw_client(sim.address)
    if remote:
        client.send("SIM:FAUL:GARB 2")
    else:
        sim.faults.garbage_next(2)
    client.send(":CTP:SENS4:CHAN1:POW?")
    assert client.read_line() == b"\xff#@!x"
    client.send("*OPC?")
    assert client.read_line() == b"\xff#@!x"
    assert client.query("*OPC?") == "1"


def test_truncated_reply_then_nothing(sim: SimulatorServer, raw_client: Callable) -> None:
    client = raw_client(sim.address)
    sim.faults.truncate_next(1)
    client.send("*IDN?")
    partial, closed = client.read_for(0.3)
    assert not closed and partial == b"EXFO,CTP10,CTP10"  # half of the 33-byte reply, no CR LF


def test_truncated_reply_then_close(sim: SimulatorServer, raw_client: Callable) -> None:
    client = raw_client(sim.address)
    client.send("SIM:FAUL:TRUN 1,1")
    client.send("*IDN?")
    assert client.read_until_eof(1.0) == b"EXFO,CTP10,CTP10"


def test_late_reply_stays_correct_and_desynchronises_an_impatient_client(
    sim_factory: Factory, raw_client: Callable
) -> None:
    sim = sim_factory(late_reply_s=0.2)
    client = raw_client(sim.address)
    start = time.monotonic()
    assert client.query("*IDN?").startswith("EXFO,CTP10")
    assert time.monotonic() - start >= 0.19
    client.send(":CTP:SENS4:CHAN3:POW?")
    with pytest.raises(TimeoutError):
        client.read_line(0.05)  # gives up on this one...
    client.send("*OPC?")
    stale = client.read_line(1.0)  # ...and reads the previous answer for the next query
    assert stale != b"1" and -6 < float(stale) < -4
    assert client.read_line(1.0) == b"1"
    sim.faults.late_reply_s = 0
    assert client.query("*OPC?", 0.1) == "1"


def test_one_failed_channel_keeps_the_others(sim: SimulatorServer, raw_client: Callable) -> None:
    client = raw_client(sim.address)
    sim.faults.fail_channel(4, 3)
    parts = client.query(":CTP:SENS4:CHAN1:POW?;:CTP:SENS4:CHAN2:POW?;:CTP:SENS4:CHAN3:POW?;"
                         ":CTP:SENS4:CHAN4:POW?").split(";")
    assert parts[2] == "x#@!"
    assert all(-10 < float(p) < 0 for i, p in enumerate(parts) if i != 2)
    client.send("SIM:FAUL:CHAN 4,3,0")
    float(client.query(":CTP:SENS4:CHAN3:POW?"))


def test_serial_change_looks_like_another_instrument(sim: SimulatorServer,
                                                     raw_client: Callable) -> None:
    client = raw_client(sim.address)
    assert client.query("*IDN?") == "EXFO,CTP10,CTP10-SIM-0001,1.6.2.0"
    sim.faults.set_serial("CTP10-SIM-0002", restart=True)
    assert client.read_until_eof(1.0) == b""
    assert raw_client(sim.address).query("*IDN?") == "EXFO,CTP10,CTP10-SIM-0002,1.6.2.0"


def test_clear_removes_every_fault(sim: SimulatorServer, raw_client: Callable) -> None:
    client = raw_client(sim.address)
    client.send("SIM:FAUL:GARB 5;:SIM:FAUL:LATE 5;:SIM:FAUL:CHAN 4,1,1")
    client.send("SIM:FAUL:CLE")
    assert client.query(":CTP:SENS4:CHAN1:POW?", 0.5) != "x#@!"
    assert client.query("SIM:FAUL:LATE?") == "0"


# ---------------------------------------------------------------- documented headers on the wire


def test_default_blocks_have_no_trailer_so_back_to_back_readers_stay_in_step(
    sim: SimulatorServer, visa: Callable
) -> None:
    # PyMeasure PR #1366 and exfo-ctp10-api read a block, then the next one, with no trailer
    # handling: on the default simulator that must leave the stream in step.
    session = visa(sim.address)
    session.write(":INIT:WAV:SAMP 10PM;:INIT")
    wait_until(lambda: session.query(":STAT:OPER:COND?") == "0")
    y = read_block(session, ":TRAC:SENS4:CHAN1:TYPE1:DATA? BIN,DB", trailer=False)
    x_hz = np.frombuffer(
        read_block(session, ":TRAC:SENS4:CHAN1:TYPE1:DATA:X? BIN,HZ", trailer=False), ">f8"
    )
    assert len(y) == 4 * 4001 and x_hz.size == 4001
    assert x_hz[0] == pytest.approx(299_792_458.0 / 1530e-9)
    assert session.query("*OPC?") == "1"


def test_documented_queries_are_answered_over_tcp(sim: SimulatorServer, visa: Callable) -> None:
    session = visa(sim.address)
    assert session.query("*STB?") == "0"
    assert session.query("*OPT?").split(",")[3] == "IL RL OPM2"
    session.write(":CTP:SENS4:CHAN1:FUNC:TRIG 2")
    assert session.query(":CTP:SENS4:CHAN1:FUNC:TRIG?") == "2"
    session.write(":INIT:TLS1:WAV:STAR 195THZ")
    assert float(session.query(":INIT:TLS1:WAV:STAR?")) == pytest.approx(299_792_458.0 / 195e12)
    assert session.query(":CTP:RLAS7:IDN?") == "NONE"
    assert session.query("SYST:ERR?") == "0,No error"


@pytest.mark.parametrize(
    ("command", "error"),
    [(":INIT:TLS1:SPE 16", '-222,"Data out of range"'),
     (":INIT:TLS2:ID 1", '-221,"Settings conflict"'),
     (":CTP:RLAS4:POW 1DBM", '-241,"Hardware missing"')],
)
def test_refused_settings_queue_their_error_over_tcp(
    sim: SimulatorServer, visa: Callable, command: str, error: str
) -> None:
    session = visa(sim.address)
    session.write(command)
    assert session.query("SYST:ERR?") == error


@pytest.mark.parametrize("variant", ["silent", "error"])
def test_silent_or_erroring_empty_laser_times_out_and_keeps_the_stream(
    sim_factory: Factory, visa: Callable, variant: str
) -> None:
    session = visa(sim_factory(empty_laser=variant).address)
    session.timeout = 200  # ms: the query is never answered, only the wait is measured
    with pytest.raises(VisaIOError):
        session.query(":CTP:RLAS6:WAV?")
    session.timeout = 2000
    assert session.query("*IDN?").startswith("EXFO,CTP10,")  # nothing late in the stream
    expected = '-241,"Hardware missing"' if variant == "error" else "0,No error"
    assert session.query("SYST:ERR?") == expected
