"""SIGTERM, SIGHUP and SIGINT close the real app process as its window's close does: within 2 s,
the recording finalised, the settings saved, no traceback.

Settings are also saved as they change (the first time soon after start): the file that save
wrote is removed before the signal, so what is found afterwards was saved on the way out."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctp10_gui.process_signals import CLOSING_SIGNALS

CLOSE_BUDGET_S = 2.0
HANDLED = "SIGTERM, SIGHUP, SIGINT close the app"
AUTOSAVED = "settings saved to"
START_TIMEOUT_S = 30.0  # interpreter, numpy, Qt and pyqtgraph on a loaded 2-core machine


def _start_app(tmp_path: Path, *where: str) -> tuple[subprocess.Popen[str], Path, Path]:
    folder, settings = tmp_path / "rec", tmp_path / "settings.json"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONUNBUFFERED": "1"}
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        env[name] = str(tmp_path / name.lower())
    proc = subprocess.Popen(
        [sys.executable, "-m", "ctp10_gui", *(where or ("--simulate",)), "--record", str(folder),
         "--settings", str(settings), "--log-level", "INFO"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    return proc, folder, settings


def _read_until(proc: subprocess.Popen[str], needles: set[str], lines: list[str]) -> None:
    """Read stderr lines until each needle has appeared (stderr is read to the end later)."""
    assert proc.stderr is not None
    missing = set(needles)
    watchdog = threading.Timer(START_TIMEOUT_S, proc.kill)  # a hung start fails, never hangs
    watchdog.start()
    try:
        while missing:
            line = proc.stderr.readline()
            assert line, f"app ended early ({proc.wait()}):\n{''.join(lines)[-3000:]}"
            lines.append(line)
            missing = {n for n in missing if n not in line}
    finally:
        watchdog.cancel()


@pytest.mark.slow
@pytest.mark.parametrize("sig", CLOSING_SIGNALS, ids=lambda s: s.name)
def test_a_closing_signal_finalises_the_recording_and_saves_settings(
        tmp_path: Path, sig: signal.Signals) -> None:
    proc, folder, settings = _start_app(tmp_path)
    lines: list[str] = []
    try:
        _read_until(proc, {"recording started in", "connected to EXFO CTP10", HANDLED,
                           AUTOSAVED}, lines)
        settings.unlink()  # saved as it changed; what follows must be saved on the way out
        sent = time.monotonic()
        proc.send_signal(sig)
        rc = proc.wait(CLOSE_BUDGET_S + 1.0)
        elapsed = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.stderr is not None
    rest = proc.stderr.read()
    stderr = "".join(lines) + rest
    assert elapsed < CLOSE_BUDGET_S, f"closing on {sig.name} took {elapsed:.2f} s"
    assert rc == 128 + sig, stderr[-3000:]
    assert f"{sig.name} received: closing the app" in rest
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert json.loads(settings.read_text())["version"] == 1
    (sidecar,) = folder.glob("*.json")
    side = json.loads(sidecar.read_text())
    assert side["complete"] is True


@pytest.fixture
def silent_port() -> Iterator[int]:
    """Return a port whose accept queue is full, so new connection requests go unanswered."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = [socket.socket() for _ in range(3)]
    for filler in fillers:
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
    yield port
    for filler in fillers:
        filler.close()
    listener.close()


@pytest.mark.slow
def test_sigterm_exits_at_once_while_the_worker_is_stuck_connecting(
        tmp_path: Path, silent_port: int) -> None:
    # pyvisa-py's connect cannot be broken from outside: the worker is a daemon thread, so
    # the process ends anyway, cleanly, with the recording and settings done.
    proc, folder, settings = _start_app(tmp_path, "--address", f"127.0.0.1:{silent_port}")
    lines: list[str] = []
    try:
        _read_until(proc, {"recording started in", HANDLED, AUTOSAVED}, lines)
        settings.unlink()  # saved as it changed; what follows must be saved on the way out
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(CLOSE_BUDGET_S + 1.0)
        elapsed = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.stderr is not None
    stderr = "".join(lines) + proc.stderr.read()
    assert elapsed < CLOSE_BUDGET_S, f"closing took {elapsed:.2f} s"
    assert rc == 128 + signal.SIGTERM, stderr[-3000:]
    assert "Traceback" not in stderr and "QThread" not in stderr
    assert "acquisition worker still busy" in stderr  # it was stuck when the app closed
    assert json.loads(settings.read_text())["version"] == 1
    (sidecar,) = folder.glob("*.json")
    assert json.loads(sidecar.read_text())["complete"] is True
