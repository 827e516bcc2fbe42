"""Settings are saved as they change: a kill -9 restarts the real app on the same instrument."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from ctp10_gui.simulator import SimulatorServer

START_TIMEOUT_S = 30.0  # interpreter, numpy, Qt and pyqtgraph on a loaded 2-core machine
SERIAL = "CTP10-LAB-0007"  # not the built-in simulator's serial: the restart names this one


def _start_app(tmp_path: Path, settings: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONUNBUFFERED": "1"}
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        env[name] = str(tmp_path / name.lower())
    return subprocess.Popen(
        [sys.executable, "-m", "ctp10_gui", *args, "--settings", str(settings),
         "--log-level", "INFO"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)


def _read_until(proc: subprocess.Popen[str], found: Callable[[list[str]], bool]) -> list[str]:
    """Read stderr lines until found(lines) holds; a hung app is killed, never waited for."""
    assert proc.stderr is not None
    lines: list[str] = []
    watchdog = threading.Timer(START_TIMEOUT_S, proc.kill)
    watchdog.start()
    try:
        while not found(lines):
            line = proc.stderr.readline()
            assert line, f"app ended early ({proc.wait()}):\n{''.join(lines)[-3000:]}"
            lines.append(line)
    finally:
        watchdog.cancel()
    return lines


def _end(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)
    if proc.stderr is not None:
        proc.stderr.close()


@pytest.mark.slow
def test_a_killed_app_restarts_on_the_instrument_it_was_given(
        tmp_path: Path, sim_factory: Callable[..., SimulatorServer]) -> None:
    sim = sim_factory(serial=SERIAL, max_clients=2)
    host, port = sim.address.split("::")[1:3]
    settings = tmp_path / "settings.json"
    connected = f"connected to EXFO CTP10 #{SERIAL}"
    first = _start_app(tmp_path, settings, "--address", f"{host}:{port}")
    try:
        lines = _read_until(first, lambda seen: any(connected in line for line in seen)
                            and any(f"settings saved to {settings}" in line for line in seen))
        saved = json.loads(settings.read_text())
        assert saved["address"] == f"{host}:{port}" and saved["use_simulator"] is False
        first.kill()  # SIGKILL: no handler runs, nothing is saved on the way out
        assert first.wait(10) == -9
    finally:
        _end(first)
    assert "Traceback" not in "".join(lines)
    assert not list(tmp_path.glob("settings.json.*.tmp"))  # written whole, renamed into place

    again = _start_app(tmp_path, settings)  # no address given: the saved one
    try:
        lines = _read_until(again, lambda seen: any(connected in line for line in seen))
    finally:
        _end(again)
    line = next(line for line in lines if connected in line)
    assert line.rstrip().endswith(f"at TCPIP::{host}::{port}::SOCKET")
    assert not any("simulator" in line.lower() and "started" in line.lower() for line in lines)
