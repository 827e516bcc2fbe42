"""A loopback "CTP10" that misbehaves on purpose, for the tests of hostile instruments.

``HostileInstrument(mode)`` listens on 127.0.0.1 (``.address`` is its VISA name), answers
``*IDN?`` like a CTP10 and every other query plausibly, except where its mode says otherwise:

- ``drip``: every reply after ``*IDN?`` comes one byte every ``drip_s`` (200 ms);
- ``endless_line``: the reply after ``*IDN?`` is an endless line without LF;
- ``giant_block``: a block query gets a header announcing 300 MB, then bytes without end;
- ``stall_block``: a block query gets ``#9999999999``, then silence;
- ``stall_after_header``: a block query gets the header LENGth? implies (``points`` float32
  values), 1000 bytes, then silence;
- ``nan_settings``: setting reads (laser power, wavelengths…) reply ``NaN``;
- ``idn_then_silent``: ``*IDN?`` is answered, then nothing more;
- ``huge_idn``: ``*IDN?`` replies 2 MB; ``control_idn``: ``*IDN?`` carries ESC and CR.

``bytes_sent`` counts what the kernel accepted from it; ``open_connections`` is how many clients
are connected now. Everything runs on daemon threads; ``stop()`` ends them at once. The fixture
``hostile`` (import ``hostile_fixture`` into a test module) makes them and stops them.
"""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

__all__ = ["IDN", "MODES", "HostileInstrument", "hostile_fixture"]

IDN = "EXFO,CTP10,HOSTILE-1,1.0"
MODES = ("sane", "drip", "endless_line", "giant_block", "stall_block", "stall_after_header",
         "nan_settings", "idn_then_silent", "huge_idn", "control_idn")
STREAM_CHUNK = 64 * 1024
SETTING_READS = (":POW?", ":WAV?", ":WAV:STAR?", ":WAV:STOP?", ":SAMP?", ":SPE?")


class HostileInstrument:
    """Serve one misbehaving CTP10 on loopback until stop()."""

    def __init__(self, mode: str, *, drip_s: float = 0.2, points: int = 1000) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {MODES}")
        self.mode = mode
        self.drip_s = drip_s
        self.points = points
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self.address = f"TCPIP::127.0.0.1::{self.port}::SOCKET"
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self.bytes_sent = 0
        self.connections = 0
        self.commands: list[str] = []
        threading.Thread(target=self._accept, name=f"hostile-{mode}", daemon=True).start()

    @property
    def open_connections(self) -> int:
        """Return how many clients are connected now (closed ones are noticed when read)."""
        with self._lock:
            return len(self._conns)

    def stop(self) -> None:
        """Close the listening socket and every connection."""
        self._stop.set()
        self._server.close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # the client went first
            conn.close()

    # ---- server side -------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            with self._lock:
                self._conns.append(conn)
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        silent = False
        try:
            for command in self._lines(conn):
                with self._lock:
                    self.commands.append(command)
                if silent or "?" not in command:
                    continue
                if command == "*IDN?":
                    self._send(conn, self._idn().encode("latin-1") + b"\r\n")
                    silent = self.mode == "idn_then_silent"
                    continue
                if self._misbehave(conn, command):
                    silent = self.mode in ("stall_block", "stall_after_header")
                    continue
                self._send(conn, self._reply(command).encode("ascii") + b"\r\n")
        except OSError:
            pass  # the client closed or reset: what most tests do on purpose
        finally:
            with self._lock:
                if conn in self._conns:
                    self._conns.remove(conn)
            conn.close()

    def _lines(self, conn: socket.socket) -> Iterator[str]:
        buffer = b""
        while not self._stop.is_set():
            chunk = conn.recv(4096)
            if not chunk:
                return
            buffer += chunk
            while b"\n" in buffer:
                line, _, buffer = buffer.partition(b"\n")
                yield line.decode("ascii", "replace").strip()

    def _send(self, conn: socket.socket, data: bytes) -> None:
        conn.sendall(data)
        with self._lock:
            self.bytes_sent += len(data)

    def _idn(self) -> str:
        if self.mode == "huge_idn":
            return IDN + ",X" + "Y" * (2 * 1024 * 1024)
        if self.mode == "control_idn":
            return "EXFO,CTP10,\x1b[2J\rERROR forged line,1.0"
        return IDN

    def _misbehave(self, conn: socket.socket, command: str) -> bool:
        """Send this mode's bad reply to command; return False to answer it normally."""
        block = "DATA?" in command or "DATA:X?" in command
        if self.mode == "drip":
            for byte in self._reply(command).encode("ascii") + b"\r\n":
                self._send(conn, bytes([byte]))
                if self._peer_gone_within(conn, self.drip_s):
                    raise ConnectionAbortedError("the client hung up mid-drip")
            return True
        if self.mode == "endless_line":
            self._stream(conn, b"")
            return True
        if block and self.mode == "giant_block":
            self._stream(conn, b"#9300000000")
            return True
        if block and self.mode == "stall_block":
            self._send(conn, b"#9999999999")
            return True
        if block and self.mode == "stall_after_header":
            size = str(self.points * 4)
            self._send(conn, f"#{len(size)}{size}".encode() + b"\0" * 1000)
            return True
        if self.mode == "nan_settings" and command.endswith(SETTING_READS) \
                and ":CTP:SENS" not in command:
            self._send(conn, b"NaN\r\n")
            return True
        return False

    def _peer_gone_within(self, conn: socket.socket, wait_s: float) -> bool:
        """Wait wait_s s; return True at once if the client closes (or stop() is called)."""
        readable, _, _ = select.select([conn], [], [], wait_s)
        if self._stop.is_set():
            return True
        if readable and conn.recv(1, socket.MSG_PEEK) == b"":
            return True
        if readable:  # a command arrived early: it waits its turn; finish the pause
            self._stop.wait(wait_s)
        return self._stop.is_set()

    def _stream(self, conn: socket.socket, head: bytes) -> None:
        """Send head, then digits without end, until the client hangs up or stop()."""
        self._send(conn, head)
        chunk = b"1" * STREAM_CHUNK
        while not self._stop.is_set():
            self._send(conn, chunk)

    def _reply(self, command: str) -> str:
        """Return a plausible CTP10 reply to a query (a compound one answered part by part)."""
        if ";" in command:
            return ";".join(self._reply(part) for part in command.split(";"))
        if command == "*OPC?":
            return "1"
        if command == "*OPT?":  # one field per module slot: a detector module in slot 4
            return ",".join("IL RL OPM2" if slot == 4 else "0" for slot in range(1, 21))
        if command.startswith("SYST:ERR"):
            return '0,"No error"'
        if command.startswith(":STAT:OPER:COND"):
            return "0"
        if ":CTP:SENS" in command and command.endswith(":POW?"):
            return "-10.0"
        if command.endswith(":UNIT:Y?"):
            return "0"
        if command.endswith(":STAB?"):
            return "0,0.0"  # stabilization: output off, 0 s
        if command.endswith(":LENG?"):
            return str(self.points)
        if command.endswith(":STAR?"):
            return "1.50000000E-006"
        if command.endswith(":SAMP?"):
            return "1.00000000E-012"
        return "0"


@pytest.fixture(name="hostile")
def hostile_fixture() -> Iterator[Callable[..., HostileInstrument]]:
    """Return hostile(mode, **options) -> a started HostileInstrument; all stopped at teardown."""
    made: list[HostileInstrument] = []

    def make(mode: str, **options: float) -> HostileInstrument:
        made.append(HostileInstrument(mode, **options))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for server in made:
        server.stop()
