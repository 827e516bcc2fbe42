"""The test fake and the real controller both offer every member of LinkPort."""

from __future__ import annotations

from fake_link import FakeLink

from ctp10_gui.link.controller import LinkController
from ctp10_gui.link.port import LinkPort

PORT_MEMBERS = sorted(
    {name for name in vars(LinkPort) if not name.startswith("_")}
    | set(LinkPort.__annotations__)
)


def test_link_port_lists_signals_properties_and_requests() -> None:
    assert {"state_changed", "batch_received", "status", "request", "apply_setting",
            "disconnect_link"} <= set(PORT_MEMBERS)


def test_fake_link_has_every_link_port_member(qtbot) -> None:
    fake = FakeLink()
    assert [name for name in PORT_MEMBERS if not hasattr(fake, name)] == []


def test_link_controller_has_every_link_port_member(qtbot) -> None:
    controller = LinkController()
    try:
        assert [name for name in PORT_MEMBERS if not hasattr(controller, name)] == []
    finally:
        controller.shutdown()
