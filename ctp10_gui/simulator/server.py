"""The simulator's TCP server: CR LF framed SCPI over raw sockets, one thread per client."""

from __future__ import annotations

import contextlib
import errno
import logging
import math
import select
import socket
import struct
import sys
import threading
import time
from types import TracebackType

from ctp10_gui.simulator.faults import GARBAGE_REPLY, FaultControl
from ctp10_gui.simulator.instrument import SimulatedCTP10
from ctp10_gui.simulator.options import SimulatorOptions

log = logging.getLogger(__name__)

_RECV_BYTES = 1 << 16
_STOP_JOIN_S = 0.2  # stop() must return in < 0.5 s even with a client stuck in sendall


class _Client:
    """One connected client: its socket (owned by its thread) and a wake-up pipe."""

    def __init__(self, sock: socket.socket, peer: str) -> None:
        self.sock = sock
        self.peer = peer
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_w.setblocking(False)
        self.action: str | None = None  # "drop" | "reset" | "stop", performed by the thread
        self.closed = threading.Event()
        self.thread: threading.Thread | None = None

    def request(self, action: str) -> None:
        """Ask the client thread to close its socket ('drop' FIN, 'reset' RST, 'stop')."""
        if self.action is None:
            self.action = action
        self.wake()

    def wake(self) -> None:
        """Interrupt the client thread's wait so it re-checks actions and the pause."""
        try:
            self.wake_w.send(b"!")
        except BlockingIOError:
            pass  # the pipe is full: a wake-up is already pending, which is all we need
        except OSError as exc:
            log.debug("wake-up of %s after its thread ended: %s", self.peer, exc)


def _drain_pipe(sock: socket.socket) -> None:
    sock.setblocking(False)
    try:
        while sock.recv(4096):
            pass
    except (BlockingIOError, InterruptedError):
        pass  # empty: every pending wake-up byte consumed
    finally:
        sock.setblocking(True)


def _graceful_close(sock: socket.socket) -> None:
    """Close with a FIN: discard unread input first (unread bytes would turn close into an RST)."""
    try:
        sock.setblocking(False)
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while sock.recv(_RECV_BYTES):
                pass
        sock.shutdown(socket.SHUT_WR)
    except OSError as exc:
        log.debug("graceful close: %s", exc)
    finally:
        sock.close()


def _reset_close(sock: socket.socket) -> None:
    """Abort the connection: SO_LINGER 0 then close sends an RST."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError as exc:
        log.debug("SO_LINGER: %s", exc)
    finally:
        sock.close()


class SimulatorServer:
    """A simulated CTP10 on a real TCP socket (loopback by default; port=0 picks a free one).

    start()/stop() or use as a context manager; address is 'TCPIP::127.0.0.1::<port>::SOCKET'.
    instrument is the SimulatedCTP10 shared by all clients; faults the FaultControl.
    """

    def __init__(
        self,
        options: SimulatorOptions | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        instrument: SimulatedCTP10 | None = None,
        bind_retry_s: float = 0.0,
    ) -> None:
        self.options = options or SimulatorOptions()
        self.instrument = instrument or SimulatedCTP10(self.options)
        self.host = host
        self.bind_retry_s = bind_retry_s
        self._port = port
        self.faults = FaultControl(self)
        self.instrument.link_faults = self.faults
        self._lsock: socket.socket | None = None
        self._clients: list[_Client] = []
        self._cond = threading.Condition()
        self._listen_mutex = threading.Lock()
        self._listen_request: socket.socket | None = None
        self._listen_pending = False
        self._listen_done = threading.Event()
        self._accept_thread: threading.Thread | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._stopping = False
        self._client_count = 0

    # ------------------------------------------------------------------ public

    @property
    def port(self) -> int:
        """Return the TCP port (the chosen one once started with port=0)."""
        return self._port

    @property
    def address(self) -> str:
        """Return the VISA address 'TCPIP::<host>::<port>::SOCKET' (any-host shown as loopback)."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"TCPIP::{host}::{self._port}::SOCKET"

    @property
    def is_running(self) -> bool:
        """Return True between start() and stop()."""
        return self._accept_thread is not None and not self._stopping

    @property
    def listening(self) -> bool:
        """Return True while new connections are accepted (not refused)."""
        return self._lsock is not None

    @property
    def client_count(self) -> int:
        """Return the number of connected clients being served."""
        with self._cond:
            return len(self._clients)

    def wait_for_client_count(self, count: int, timeout_s: float) -> bool:
        """Wait until count clients are served (a closed one is gone); False after timeout_s."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._clients) == count, timeout_s)

    def start(self) -> None:
        """Bind, listen and serve in background threads; raise OSError if the port is taken."""
        if self._accept_thread is not None:
            raise RuntimeError("simulator already started")
        self._stopping = False
        self._lsock = self._bind()
        self._port = self._lsock.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_w.setblocking(False)
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name=f"ctp10-sim-accept-{self._port}", daemon=True
        )
        self._accept_thread.start()
        log.info("simulated CTP10 %s listening on %s", self.instrument.serial, self.address)

    def stop(self) -> None:
        """Close every client and the listener; return in < 0.5 s. Idempotent."""
        thread = self._accept_thread
        if thread is None:
            return
        self._stopping = True
        self.faults.cancel_timers()
        with self._cond:
            clients = list(self._clients)
            self._cond.notify_all()
        for client in clients:
            client.request("stop")
        self._wake_accept()
        deadline = time.monotonic() + _STOP_JOIN_S
        thread.join(max(0.0, deadline - time.monotonic()))
        for client in clients:
            if client.thread is not None:
                client.thread.join(max(0.0, deadline - time.monotonic()))
        for client in clients:
            if client.thread is not None and client.thread.is_alive():
                # stuck in sendall to a client that does not read: break the send
                try:
                    client.sock.shutdown(socket.SHUT_RDWR)
                except OSError as exc:
                    log.debug("forced shutdown of %s: %s", client.peer, exc)
                client.thread.join(0.1)
        if thread.is_alive():
            log.warning("simulator accept thread did not stop in time")
        for sock in (self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        self._wake_r = self._wake_w = None
        self._accept_thread = None
        log.info("simulated CTP10 on port %d stopped", self._port)

    def __enter__(self) -> SimulatorServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ listening

    def _bind(self) -> socket.socket:
        deadline = time.monotonic() + self.bind_retry_s
        while True:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            if sys.platform != "win32":  # on Windows it would let two servers share one port
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((self.host, self._port))
                sock.listen(16)
                return sock
            except OSError as exc:
                sock.close()
                if exc.errno != errno.EADDRINUSE or time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)  # the old owner of the port is still exiting

    def _set_listening(self, on: bool) -> None:
        if not self.is_running:
            raise RuntimeError("the simulator is not running")
        with self._listen_mutex:
            if on == (self._lsock is not None):
                return
            new_sock = self._bind() if on else None
            self._listen_done.clear()
            self._listen_request = new_sock
            self._listen_pending = True
            self._wake_accept()
            if not self._listen_done.wait(2.0):
                self._listen_pending = False
                if new_sock is not None:
                    new_sock.close()  # never applied: don't leave a listener nobody accepts on
                raise RuntimeError("accept thread did not apply the listen change")
        log.info("fault: %s", "listening again" if on else "refusing new connections")

    def _apply_listen_request(self) -> None:
        if not self._listen_pending:
            return
        old, self._lsock = self._lsock, self._listen_request
        if old is not None:
            if not self._stopping:
                # serve connections already completed in the backlog: closing the listener
                # would reset them, and "refuse" means refusing only NEW connections
                while select.select([old], [], [], 0)[0]:
                    self._accept_one(old)
            old.close()
        self._listen_pending = False
        self._listen_done.set()

    def _wake_accept(self) -> None:
        if self._wake_w is None:
            return
        try:
            self._wake_w.send(b"!")
        except BlockingIOError:
            pass  # a wake-up is already pending
        except OSError as exc:
            log.debug("accept wake-up: %s", exc)

    def _wake_all(self) -> None:
        self._wake_accept()
        with self._cond:
            clients = list(self._clients)
        for client in clients:
            client.wake()

    def _accept_loop(self) -> None:
        assert self._wake_r is not None
        try:
            while not self._stopping:
                lsock = self._lsock
                paused = self.faults.pause_remaining()
                rlist: list[socket.socket] = [self._wake_r]
                if lsock is not None and paused == 0:
                    rlist.append(lsock)  # paused like SIGSTOP: connections wait in the backlog
                timeout = None if paused == 0 or math.isinf(paused) else paused
                readable, _, _ = select.select(rlist, [], [], timeout)
                if self._wake_r in readable:
                    _drain_pipe(self._wake_r)
                if self._stopping:
                    break
                self._apply_listen_request()
                if lsock is not None and lsock in readable and lsock is self._lsock:
                    self._accept_one(lsock)
        except Exception:
            log.exception("simulator accept loop failed")
        finally:
            self._apply_listen_request()
            if self._lsock is not None:
                self._lsock.close()
                self._lsock = None

    def _accept_one(self, lsock: socket.socket) -> None:
        try:
            conn, peer_addr = lsock.accept()
        except OSError as exc:
            log.warning("accept failed: %s", exc)
            return
        peer = f"{peer_addr[0]}:{peer_addr[1]}"
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        limit = self.options.max_clients
        with self._cond:
            # a client that just closed may not have been reaped yet: give it a moment
            has_room = self._cond.wait_for(
                lambda: len(self._clients) < limit or self._stopping,
                timeout=self.options.busy_grace_s,
            )
            if not has_room or self._stopping:
                log.info("refusing %s: %d client(s) already connected", peer, len(self._clients))
                _graceful_close(conn)
                return
            client = _Client(conn, peer)
            self._clients.append(client)
            self._client_count += 1
            client.thread = threading.Thread(
                target=self._serve,
                args=(client,),
                name=f"ctp10-sim-client-{self._client_count}",
                daemon=True,
            )
            # Started under the lock: stop() snapshots the clients under it and joins each
            # thread, which raises RuntimeError for a thread not started yet.
            client.thread.start()
        log.info("client %s connected", peer)

    # ------------------------------------------------------------------ serving one client

    def _close_clients(self, action: str) -> int:
        with self._cond:
            clients = list(self._clients)
        # a SIM: command runs in a client thread that holds the instrument lock: it must not
        # wait (the other clients may need that lock to reach their close); it closes itself
        # right after its message
        in_client_thread = self._is_client_thread(threading.current_thread())
        for client in clients:
            client.request(action)
        if not in_client_thread:
            for client in clients:
                client.closed.wait(1.0)
        log.info("fault: %s of %d client(s)", "RST" if action == "reset" else "FIN", len(clients))
        return len(clients)

    def _is_client_thread(self, thread: threading.Thread) -> bool:
        with self._cond:
            return any(c.thread is thread for c in self._clients)

    def _wait_wake(self, client: _Client, timeout: float | None) -> None:
        readable, _, _ = select.select([client.wake_r], [], [], timeout)
        if readable:
            _drain_pipe(client.wake_r)

    def _sleep(self, client: _Client, seconds: float) -> bool:
        """Wait seconds; return False early if a close action arrived."""
        deadline = time.monotonic() + seconds
        while client.action is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return True
            self._wait_wake(client, remaining)
        return False

    def _wait_unpaused(self, client: _Client) -> bool:
        """Wait while paused; return False if a close action arrived."""
        while client.action is None:
            remaining = self.faults.pause_remaining()
            if remaining == 0:
                return True
            self._wait_wake(client, None if math.isinf(remaining) else remaining)
        return False

    def _serve(self, client: _Client) -> None:
        sock = client.sock
        buffer = bytearray()
        reason = "closed by the client"
        try:
            while True:
                if client.action is not None:
                    reason = {"drop": "dropped (FIN)", "reset": "reset (RST)"}.get(
                        client.action, "server stopping"
                    )
                    if client.action == "reset":
                        _reset_close(sock)
                    else:
                        _graceful_close(sock)
                    return
                if not self._wait_unpaused(client):
                    continue
                newline = buffer.find(b"\n")
                if newline >= 0:
                    line = bytes(buffer[:newline]).rstrip(b"\r").decode("latin-1")
                    del buffer[: newline + 1]
                    self._process(client, line)
                    continue
                readable, _, _ = select.select([sock, client.wake_r], [], [])
                if client.wake_r in readable:
                    _drain_pipe(client.wake_r)
                if sock in readable:
                    data = sock.recv(_RECV_BYTES)
                    if not data:
                        sock.close()
                        return
                    buffer += data
        except OSError as exc:
            reason = f"connection error: {exc!r}"
            sock.close()
        except Exception:
            reason = "internal error"
            log.exception("simulator client %s failed", client.peer)
            _graceful_close(sock)
        finally:
            with self._cond:
                if client in self._clients:
                    self._clients.remove(client)
                self._cond.notify_all()
            client.wake_r.close()
            client.wake_w.close()
            client.closed.set()
            log.info("client %s %s", client.peer, reason)

    def _process(self, client: _Client, line: str) -> None:
        reply = self.instrument.handle(line)
        if reply is None:
            return
        data = reply if isinstance(reply, bytes) else reply.encode("latin-1") + b"\r\n"
        fault = self.faults.take_reply_fault()
        late = self.faults.late_reply_s
        if late > 0 and not self._sleep(client, late):
            return
        if not self._wait_unpaused(client):
            return
        close_after = False
        if fault is not None and fault[0] == "garbage":
            data = GARBAGE_REPLY + b"\r\n"
        elif fault is not None:
            body = data[:-2] if data.endswith(b"\r\n") else data
            data = body[: max(1, len(body) // 2)]
            close_after = fault[1]
        client.sock.sendall(data)
        if close_after:
            client.request("drop")
