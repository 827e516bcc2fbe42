"""The inventory read at connect reaches the GUI thread before the link says it is open, and
belongs to the address that answered with it."""

from __future__ import annotations

from collections.abc import Callable

from link_helpers import StateRecorder

from ctp10_gui.hardware.inventory import Inventory
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
