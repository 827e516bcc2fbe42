"""ctp10-sim as a separate process: one address line, clean exit on SIGTERM, signal faults."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import pytest

from ctp10_gui.simulator.cli import build_parser, main, options_from_args


def test_arguments_map_to_options() -> None:
    args = build_parser().parse_args([
        "--port", "0", "--speedup", "20", "--serial", "LAB-7", "--seed", "3", "--no-compound",
        "--unit-reply", "text", "--power-reply", "with-unit", "--under-range", "keysight",
        "--block-trailer", "--empty-laser", "silent", "--max-clients", "2", "--late-reply-s", "0.5",
        "--no-drift",
        "--offset-um", "1.5,-2", "--scan-bit-delay-s", "0.3", "--modules", "2,4,9",
    ])
    options = options_from_args(args)
    assert args.port == 0 and args.host == "127.0.0.1"
    assert (options.speedup, options.serial, options.seed, options.compound) == (20, "LAB-7", 3,
                                                                                False)
    assert (options.unit_reply, options.power_reply, options.under_range) == (
        "text", "with_unit", "keysight")
    assert options.block_trailer and options.empty_laser == "silent" and not options.drift
    assert options.max_clients == 2 and options.late_reply_s == 0.5
    assert options.offset_um == (1.5, -2.0) and options.scan_bit_delay_s == 0.3
    assert options.modules == (2, 4, 9)


def test_defaults_port_5025_and_loopback() -> None:
    args = build_parser().parse_args([])
    assert (args.host, args.port, args.speedup) == ("127.0.0.1", 5025, 1.0)
    options = options_from_args(args)
    assert not options.block_trailer and options.empty_laser == "values"


def test_bad_option_exits_with_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--max-clients", "0"])
    assert info.value.code == 2
    assert "max_clients" in capsys.readouterr().err


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_cli_prints_one_address_line_and_exits_cleanly_on_a_signal(
    raw_client, stop_signal: signal.Signals
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "ctp10_gui.simulator", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        assert line.startswith("TCPIP::127.0.0.1::") and line.endswith("::SOCKET\n")
        client = raw_client(line.strip())
        assert client.query("*IDN?").startswith("EXFO,CTP10,")
        proc.send_signal(stop_signal)
        out, err = proc.communicate(timeout=5)
        client.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err.decode()
    assert out == b""  # nothing after the address line
    assert b"Traceback" not in err


def test_sim_process_stall_with_sigstop(sim_process, raw_client) -> None:
    client = raw_client(sim_process.address)
    assert client.query("*OPC?") == "1"
    sim_process.pause()
    client.send("*OPC?")
    with pytest.raises(TimeoutError):
        client.read_line(0.3)
    sim_process.resume()
    assert client.read_line(2.0) == b"1"


def test_sim_process_kill_gives_eof_and_refusal(sim_process, raw_client) -> None:
    client = raw_client(sim_process.address)
    assert client.query("*OPC?") == "1"
    sim_process.kill()
    assert client.read_until_eof(2.0) == b""  # the kernel closed the dead process's socket
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", sim_process.port), timeout=1.0)


def test_sim_process_remote_fault_and_coupling(sim_process, raw_client) -> None:
    client = raw_client(sim_process.address)
    client.send("SIM:DRIF 0;:SIM:NOIS 0;:SIM:COUP:OFFS 0,0")
    aligned = float(client.query(":CTP:SENS4:CHAN1:POW?"))
    client.send("SIM:COUP:OFFS 3,0")
    assert float(client.query(":CTP:SENS4:CHAN1:POW?")) < aligned - 5
    client.send("SIM:FAUL:RST")
    with pytest.raises(ConnectionResetError):
        client.read_until_eof(2.0)


def test_sim_process_restart_keeps_the_port_with_a_new_serial(sim_process, raw_client) -> None:
    port = sim_process.port
    client = raw_client(sim_process.address)
    assert client.query("*IDN?").split(",")[2] == "CTP10-SIM-0001"
    old_pid = sim_process.pid
    sim_process.restart(serial="CTP10-SIM-0099")
    assert sim_process.port == port and sim_process.pid != old_pid
    assert client.read_until_eof(2.0) == b""  # the old session saw the instrument go away
    fresh = raw_client(sim_process.address)
    assert fresh.query("*IDN?") == "EXFO,CTP10,CTP10-SIM-0099,1.6.2.0"
