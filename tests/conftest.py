"""Shared fixtures: Qt offscreen, and the built-in CTP10 simulator in-process or as a subprocess.

- ``sim``: a running in-process SimulatorServer (speedup 50) at ``sim.address``.
- ``sim_factory``: ``sim_factory(compound=False, max_clients=2, ...)`` builds and starts more.
- ``raw_client``: ``raw_client(address)`` opens a bare TCP client (RawClient) to see exactly
  what a server sends (EOF, RST, partial lines); closed at teardown.
- ``sim_process``: ``python -m ctp10_gui.simulator --port 0 --speedup 50`` as a child
  process (SIGSTOP/SIGCONT, kill, restart on the same port); ``sim_process_factory(*args)``
  starts one with extra CLI arguments. Everything is stopped at teardown.
"""

from __future__ import annotations

import os

# before anything can import Qt: every test (and every helper's test dir) runs offscreen
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import gc
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ctp10_gui.simulator import SimulatorOptions, SimulatorServer

SIM_SPEEDUP = 50.0  # a 40 nm sweep at 20 nm/s takes 40 ms instead of 2 s
SIM_START_TIMEOUT_S = 15.0  # interpreter + numpy start-up on a loaded 2-core machine


@pytest.fixture(autouse=True)
def _collect_cycles_in_the_gui_thread(request: pytest.FixtureRequest) -> Iterator[None]:
    """Keep the cyclic GC off during Qt tests and collect at teardown, in this (GUI) thread.

    Python collects cycles in whichever thread allocates. A QObject freed in a simulator or
    worker thread takes Qt's connection lock and then waits for the GIL, which the GUI thread
    holds while waiting for that lock: the suite hung so once (py-spy showed both stacks).
    The app does the same with a timer (ctp10_gui.app.start).
    """
    if not {"qtbot", "qapp"} & set(request.fixturenames):
        yield
        return
    enabled = gc.isenabled()
    gc.disable()
    yield
    gc.collect()
    if enabled:
        gc.enable()


@pytest.fixture
def sim_factory() -> Iterator[Callable[..., SimulatorServer]]:
    """Build and start in-process simulators: sim_factory(**SimulatorOptions fields, port=0).

    speedup defaults to 50; host/port/instrument are passed to SimulatorServer. Every server
    built is stopped at teardown.
    """
    servers: list[SimulatorServer] = []

    def make(*, host: str = "127.0.0.1", port: int = 0, **options: Any) -> SimulatorServer:
        options.setdefault("speedup", SIM_SPEEDUP)
        server = SimulatorServer(SimulatorOptions(**options), host=host, port=port)
        server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def sim(sim_factory: Callable[..., SimulatorServer]) -> SimulatorServer:
    """Return a running in-process simulated CTP10 (speedup 50, default options)."""
    return sim_factory()


class RawClient:
    """A bare TCP client speaking CR LF lines, to observe exactly what the server sends."""

    def __init__(self, address: str, timeout_s: float = 2.0) -> None:
        _, host, port, _ = address.split("::")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout_s)
        self.buffer = b""

    def send(self, line: str) -> None:
        """Send one message with CR LF."""
        self.sock.sendall(line.encode("latin-1") + b"\r\n")

    def read_line(self, timeout_s: float = 2.0) -> bytes:
        """Return one reply without CR LF; raise TimeoutError, or EOFError on a closed peer."""
        self.sock.settimeout(timeout_s)
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"peer closed; unterminated bytes {self.buffer!r}")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def query(self, line: str, timeout_s: float = 2.0) -> str:
        """Send a query and return its reply line as text."""
        self.send(line)
        return self.read_line(timeout_s).decode("latin-1")

    def read_for(self, seconds: float) -> tuple[bytes, bool]:
        """Return (bytes received within seconds, True if the peer closed with a FIN)."""
        deadline = time.monotonic() + seconds
        data, self.buffer = self.buffer, b""
        while (remaining := deadline - time.monotonic()) > 0:
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                return data, True
            data += chunk
        return data, False

    def read_until_eof(self, timeout_s: float = 2.0) -> bytes:
        """Return everything up to the peer's FIN; TimeoutError if still open, reset propagates."""
        data, eof = self.read_for(timeout_s)
        if not eof:
            raise TimeoutError(f"peer still open after {timeout_s} s (got {data!r})")
        return data

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


@pytest.fixture
def raw_client() -> Iterator[Callable[..., RawClient]]:
    """Open bare TCP clients: raw_client(address, timeout_s=2.0) -> RawClient; closed after."""
    made: list[RawClient] = []

    def connect(address: str, timeout_s: float = 2.0) -> RawClient:
        client = RawClient(address, timeout_s)
        made.append(client)
        return client

    yield connect
    for client in made:
        client.close()


class SimProcess:
    """The simulator CLI running as a child process, controllable with signals.

    address: VISA address read from its single stdout line; proc/pid: the child;
    stop() SIGTERM (clean exit, returns the exit code), kill() SIGKILL, pause() SIGSTOP,
    resume() SIGCONT, restart(serial=None) a new process on the SAME port.
    """

    def __init__(self, args: list[str], log_path: Path) -> None:
        self.args = list(args)
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.address = ""
        self.port = 0
        self.paused = False
        self._start(["--port", "0", *self.args])

    @property
    def pid(self) -> int:
        """Return the child's process id."""
        assert self.proc is not None
        return self.proc.pid

    def _start(self, args: list[str]) -> None:
        command = [sys.executable, "-m", "ctp10_gui.simulator", *args]
        with self.log_path.open("ab") as log_file:
            self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log_file)
        self.paused = False
        line = self._read_line(SIM_START_TIMEOUT_S)
        if not line.startswith("TCPIP::"):
            self.kill()
            log = self.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"simulator did not print its address (got {line!r}):\n{log}")
        self.address = line
        self.port = int(line.split("::")[2])

    def _read_line(self, timeout_s: float) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        data = b""
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            while b"\n" not in data:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    break
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                data += chunk
        return data.decode(errors="replace").strip()

    def stop(self, timeout_s: float = 5.0) -> int:
        """Send SIGTERM (after SIGCONT if paused), wait; return the exit code (kill on timeout)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc is not None else 0
        if self.paused:
            self.resume()
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        """Kill the child with SIGKILL (its sockets are closed by the kernel) and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5.0)
        self.paused = False

    def pause(self, timeout_s: float = 2.0) -> None:
        """Freeze the child with SIGSTOP and return once every thread is stopped (Linux).

        SIGSTOP is asynchronous: without the wait a query sent right after os.kill could
        still be answered by a thread that has not stopped yet.
        """
        os.kill(self.pid, signal.SIGSTOP)
        self.paused = True
        tasks = Path(f"/proc/{self.pid}/task")
        if not tasks.is_dir():
            return  # not Linux: no portable way to observe the stop
        deadline = time.monotonic() + timeout_s
        while not all(self._task_stopped(task) for task in tasks.iterdir()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"simulator pid {self.pid} did not stop within {timeout_s} s")
            time.sleep(0.001)  # polling the kernel's view of the child, bounded by the deadline

    @staticmethod
    def _task_stopped(task: Path) -> bool:
        try:
            stat = (task / "stat").read_text()
        except FileNotFoundError:
            return True  # the thread ended
        return stat[stat.rindex(")") + 2] in "Tt"

    def resume(self) -> None:
        """Continue a paused child with SIGCONT."""
        os.kill(self.pid, signal.SIGCONT)
        self.paused = False

    def restart(self, serial: str | None = None) -> None:
        """Stop the child and start a new one on the same port, optionally with a new serial."""
        self.stop()
        args = list(self.args)
        if serial is not None:
            args += ["--serial", serial]
            self.args = args
        self._start(["--port", str(self.port), *args])

    def close(self) -> None:
        """Stop the child whatever its state, and close its pipe."""
        try:
            self.stop()
        finally:
            self.kill()
            if self.proc is not None and self.proc.stdout is not None:
                self.proc.stdout.close()


@pytest.fixture
def sim_process_factory(tmp_path: Path) -> Iterator[Callable[..., SimProcess]]:
    """Start simulator subprocesses: sim_process_factory('--no-compound', ...) -> SimProcess.

    --speedup 50 is added unless given; --port 0 always (restart() reuses the chosen port).
    stderr goes to tmp_path/sim-<n>.log. Every child is stopped (or killed) at teardown.
    """
    made: list[SimProcess] = []

    def make(*args: str) -> SimProcess:
        extra = list(args)
        if "--speedup" not in extra:
            extra += ["--speedup", str(SIM_SPEEDUP)]
        process = SimProcess(extra, tmp_path / f"sim-{len(made)}.log")
        made.append(process)
        return process

    yield make
    for process in made:
        process.close()


@pytest.fixture
def sim_process(sim_process_factory: Callable[..., SimProcess]) -> SimProcess:
    """Return a simulator running as a subprocess (speedup 50) at sim_process.address."""
    return sim_process_factory()
