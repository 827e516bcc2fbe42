"""The acquisition loop itself, in the test thread, on a scripted instrument and a fake clock."""

from __future__ import annotations

import gc
import weakref

import numpy as np

from ctp10_gui.hardware.ctp10 import CTP10
from ctp10_gui.hardware.power import ChannelStatus
from ctp10_gui.link.worker import BATCH_MAX_AGE_S, AcquisitionWorker, WorkerBatch
from ctp10_gui.models.samples import SnapshotBatch

CH4 = (1, 2, 3, 4)
GARBLED_AT = 5  # the snapshot whose channel 3 answers garbage
SWITCH_AT = 30  # the snapshot during which the GUI asks for channels (1, 2)
STOP_AT = 60  # the snapshot during which the GUI stops the loop


class FakeClock:
    """Monotonic seconds that move only when the instrument answers."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class ScriptedCtp10:
    """Answer like a CTP10 in dBm: value of snapshot k, channel c is -(k + c / 10) dBm."""

    address = "TCPIP::scripted::5025::SOCKET"
    io_timeout_s = 1.0
    settings_sent = 0  # it takes queries only

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.is_open = False
        self.snapshots = 0
        self.unread: tuple[str, str] | None = None  # a query sent, its reply not yet read
        self.sent_ahead = 0  # queries written on their own, their reply read later
        self.requests_seen = 0
        self.worker: AcquisitionWorker | None = None

    def open(self) -> None:
        self.is_open = True

    def close(self) -> None:
        self.is_open = False

    def query(self, command: str) -> str:
        self.write(command)
        self.sent_ahead -= 1  # a plain query, not a snapshot query sent ahead
        return self.receive(command)

    def write(self, command: str) -> None:
        self.sent_ahead += 1
        # The instrument gets a query only after its previous reply was read in full.
        assert self.unread is None, f"{command!r} sent before the reply to {self.unread[0]!r}"
        assert command.endswith("?"), f"unexpected write {command!r}"
        self.unread = (command, self._answer(command))

    def receive(self, command: str) -> str:
        assert self.unread is not None and self.unread[0] == command, (command, self.unread)
        reply, self.unread = self.unread[1], None
        return reply

    def _answer(self, command: str) -> str:
        if command == "*IDN?":
            self.requests_seen += self.snapshots > 0
            return "EXFO,CTP10,SN1,1.0"
        parts = command.split(";")
        assert all(p.endswith(("POW?", "UNIT:Y?")) for p in parts), command
        k = self.snapshots
        self.snapshots += 1
        self.clock.now += 0.001  # a 1 ms round trip
        assert self.worker is not None
        if k == SWITCH_AT:
            self.worker.configure(4, (1, 2), 0.0)
            self.worker.submit(7, lambda ctp: ctp.query("*IDN?"))  # between two snapshots
        if k == STOP_AT:
            self.worker.stop()
        channels = [int(part.split("CHAN")[1].split(":")[0]) for part in parts]
        return ";".join(
            "DBM" if part.endswith("UNIT:Y?")
            else "x#" if (k == GARBLED_AT and c == 3) else f"{-(k + c / 10):.1f}"
            for part, c in zip(parts, channels, strict=True)
        )


def test_every_snapshot_reaches_the_gui_in_order_in_batches_of_one_layout(qapp) -> None:
    clock = FakeClock()
    instrument = ScriptedCtp10(clock)
    worker = AcquisitionWorker(
        lambda address: CTP10(instrument, clock=clock, wall_clock=lambda: 1.7e9 + clock.now),
        clock=clock,
    )
    instrument.worker = worker
    batches: list[WorkerBatch] = []
    errors: list[tuple[str, ...]] = []
    # The worker lives in this thread here, so its signals are delivered at once.
    worker.batch_ready.connect(batches.append)
    worker.channel_errors.connect(lambda session, e: errors.append(e))
    done: list[tuple[int, object]] = []
    worker.request_done.connect(lambda session, rid, result, t: done.append((rid, result)))
    worker.open(1, instrument.address)
    worker.set_live(True)
    worker.configure(4, CH4, 0.0)
    worker.run()  # returns after the stop asked for during snapshot STOP_AT

    assert instrument.snapshots == STOP_AT + 1 and not instrument.is_open
    # At the maximum rate each snapshot query goes out before the previous reply is batched
    # (the fake fails any query sent before the previous reply was read), also across the
    # request and the layout switch.
    assert instrument.sent_ahead >= STOP_AT - 3
    assert done == [(7, "EXFO,CTP10,SN1,1.0")] and instrument.requests_seen == 1
    layouts = [b.batch.channels for b in batches]
    n_wide = layouts.count(CH4)
    assert layouts == [CH4] * n_wide + [(1, 2)] * (len(layouts) - n_wide)
    for b in batches:
        assert b.session == 1 and len(b.latency_s) == len(b.batch)
        assert b.batch.t_mono[-1] - b.batch.t_mono[0] <= BATCH_MAX_AGE_S
        np.testing.assert_allclose(b.latency_s, 0.001)
    wide = SnapshotBatch.concat([b.batch for b in batches[:n_wide]])
    narrow = SnapshotBatch.concat([b.batch for b in batches[n_wide:]])
    # Not one snapshot lost or reordered, also across the layout switch.
    k = np.arange(STOP_AT + 1)
    t_mono = np.concatenate([wide.t_mono, narrow.t_mono])
    np.testing.assert_allclose(t_mono, 100.0 + 0.001 * (k + 1), rtol=0, atol=1e-9)
    np.testing.assert_array_equal(wide.t_wall, 1.7e9 + wide.t_mono)
    expected = -(k[:, None] + np.array(CH4) / 10)
    expected[GARBLED_AT, 2] = np.nan
    np.testing.assert_allclose(wide.values_dbm, expected[: SWITCH_AT + 1])
    np.testing.assert_allclose(narrow.values_dbm, expected[SWITCH_AT + 1 :, :2])
    assert wide.status.dtype == np.int8
    assert wide.status[GARBLED_AT].tolist() == [0, 0, int(ChannelStatus.ERROR), 0]
    assert np.count_nonzero(wide.status) == 1 and not narrow.status.any()
    # Channel errors are reported when they change, not per snapshot.
    assert errors == [
        ("", "", "", ""),
        ("", "", "garbled reply 'x#'", ""),
        ("", "", "", ""),
        ("", ""),
    ]


def test_a_dropped_worker_is_freed_at_once_not_left_to_the_cyclic_collector(qapp) -> None:
    # The collector may run in any thread, and a QObject freed outside the GUI thread can
    # deadlock PySide: the worker and its loop must not form a cycle.
    worker = AcquisitionWorker(lambda address: CTP10(ScriptedCtp10(FakeClock())))
    freed = weakref.ref(worker)
    assert not gc.isenabled()  # the Qt-test fixture: nothing but reference counting here
    del worker
    assert freed() is None
