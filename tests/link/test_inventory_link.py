"""The inventory read at connect reaches the GUI thread before the link says it is open, and
belongs to the address that answered with it."""

from __future__ import annotations

from collections.abc import Callable

from link_helpers import StateRecorder

from ctp10_gui.hardware.ctp10 import CTP10
from ctp10_gui.hardware.inventory import Inventory
from ctp10_gui.hardware.replay import ReplayTransport
from ctp10_gui.link.worker import AcquisitionWorker
from ctp10_gui.models.connection import LinkState
from ctp10_gui.simulator import SimulatorServer

S = LinkState


def test_the_inventory_comes_before_the_open_states_and_goes_with_the_address(
        qtbot, sim_factory: Callable[..., SimulatorServer], make_controller) -> None:
    first = sim_factory(modules=(4, 6), channels_per_module=4)
    other = sim_factory(modules=(2,), channels_per_module=6)
    ctl = make_controller(live=False)
    seen: list[tuple[Inventory | None, LinkState]] = []
    ctl.inventory_changed.connect(lambda inventory: seen.append((inventory, ctl.status.state)))
    rec = StateRecorder(ctl)
    ctl.connect_to(first.address)
    qtbot.waitUntil(lambda: ctl.status.state is S.CONNECTED, timeout=5000)
    inventory = ctl.inventory
    assert inventory is not None and dict(inventory.detectors) == {4: 4, 6: 4}
    assert dict(inventory.lasers) == {1: "T100S-HP", 2: "T200S"}
    assert seen == [(inventory, S.CONNECTING)]  # known before anything is polled
    assert rec.states() == [S.CONNECTING, S.CONNECTED]

    ctl.connect_to(other.address)  # nothing of the first instrument is offered meanwhile
    assert ctl.inventory is None and seen[-1] == (None, S.CONNECTED)
    qtbot.waitUntil(lambda: ctl.status.state is S.CONNECTED, timeout=5000)
    assert ctl.inventory is not None and dict(ctl.inventory.detectors) == {2: 6}

    ctl.disconnect_link()
    assert ctl.inventory is None and seen[-1] == (None, S.DISCONNECTED)


def test_the_worker_reads_the_inventory_right_after_the_identity_and_says_it_first(
        qapp) -> None:
    idn = "EXFO,CTP10,SN0042,1.2.3"

    def probe(command: str, reply: str | None) -> list[tuple[str | None, str | None]]:
        if reply is None:  # silent: the identity at once, then the error queue drained
            return [(command, None), ("*IDN?", None), (None, idn),
                    ("SYST:ERR?", '-241,"Hardware missing"'), ("SYST:ERR?", "0,No error")]
        return [(command, None), ("*IDN?", None), (None, reply), (None, idn)]

    options = ",".join("IL RL OPM2" if slot == 6 else "0" for slot in range(1, 21))
    exchange = [("*IDN?", idn), *probe("*OPT?", options)]
    for channel in (1, 2):
        exchange += probe(f":CTP:SENS6:CHAN{channel}:UNIT:Y?", "0")
    exchange += probe(":CTP:SENS6:CHAN3:UNIT:Y?", None)
    for r in range(1, 11):
        exchange += probe(f":CTP:RLAS{r}:IDN?", "EXFO,T100S-HP,0,6.06" if r == 1 else "NONE")
    transport = ReplayTransport(exchange)
    worker = AcquisitionWorker(lambda address: CTP10(transport), clock=lambda: 0.0)
    said: list[tuple[str, object]] = []
    worker.inventory_read.connect(lambda session, inventory: said.append(("inventory",
                                                                          inventory)))
    worker.opened.connect(lambda session, identity, t: said.append(("opened", identity.serial)))
    worker.open(1, transport.address)
    worker.submit(1, lambda ctp: worker.stop())  # after the open: end the loop there
    worker.run()  # the worker lives in this thread here: its signals arrive at once
    transport.assert_done()
    assert said == [("inventory", Inventory({6: 2}, {6: "IL RL OPM2"}, {1: "T100S-HP"})),
                    ("opened", "SN0042")]
