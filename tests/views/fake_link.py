"""FakeLink: a LinkPort for view tests that runs each request at once on a given CTP10.

Give it a replay CTP10 (`expected_protocol`) and a view's procedures run against the exact
SCPI exchange in the test's thread; without one, requests wait in `pending` for the test.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal

from ctp10_gui.hardware.ctp10 import CTP10, Identity
from ctp10_gui.hardware.inventory import Inventory
from ctp10_gui.hardware.scpi import PowerUnit
from ctp10_gui.link.port import LinkPort
from ctp10_gui.models.connection import AcquisitionSettings, LinkHealth, LinkState, LinkStatus
from ctp10_gui.procedures import detector_group, write_control

T = TypeVar("T")


@dataclass
class Request:
    """One request a view made: the callable, its callbacks and how it was marked."""

    fn: Callable[[CTP10], Any]
    on_done: Callable[[Any], None] | None
    on_error: Callable[[Exception], None] | None
    busy: bool = False
    label: str = ""
    timeout_s: float | None = None
    key: Hashable | None = None  # the re-apply key of apply_setting
    outcome: list[object] = field(default_factory=list)


def status_of(state: LinkState, **changes: Any) -> LinkStatus:
    """Return a LinkStatus in state with neutral attempt/reason fields."""
    base: dict[str, Any] = {"attempt": 0, "max_attempts": 10, "reason": "",
                            "next_attempt_at": None, "since": 0.0}
    base.update(changes)
    return LinkStatus(state, **base)


class FakeLink(QObject):
    """Implements LinkPort; records every call; runs requests on `instrument` when given."""

    state_changed = Signal(object)
    batch_received = Signal(object)
    health_changed = Signal(object)
    identity_changed = Signal(object)
    inventory_changed = Signal(object)
    link_event = Signal(str, str)
    instrument_error = Signal(str)

    def __init__(self, instrument: CTP10 | None = None, *,
                 address: str | None = "TCPIP::replay::5025::SOCKET") -> None:
        super().__init__()
        self.instrument = instrument
        self._status = status_of(LinkState.DISCONNECTED, address=address)
        self._identity: Identity | None = None
        self._inventory: Inventory | None = None
        self._address = address
        self._settings = AcquisitionSettings()
        self.requests: list[Request] = []
        self.calls: list[tuple[str, tuple[object, ...]]] = []
        self.is_cancelled = False

    # -- what the test drives -------------------------------------------------------------------
    def set_status(self, status: LinkStatus) -> None:
        """Enter status and tell the views."""
        self._status = status
        self.state_changed.emit(status)

    def set_state(self, state: LinkState, **changes: Any) -> None:
        """Enter a status in state (address kept) and tell the views."""
        self.set_status(status_of(state, address=self._address, **changes))

    def set_identity(self, identity: Identity | None) -> None:
        """Answer as identity (None: no instrument) and tell the views."""
        self._identity = identity
        self.identity_changed.emit(identity)

    def set_inventory(self, inventory: Inventory | None) -> None:
        """Report inventory as read at connect (None: none known) and tell the views."""
        self._inventory = inventory
        self.inventory_changed.emit(inventory)

    @property
    def pending(self) -> list[Request]:
        """Return the requests not run yet (no instrument given)."""
        return [r for r in self.requests if not r.outcome]

    # -- LinkPort -------------------------------------------------------------------------------
    @property
    def status(self) -> LinkStatus:
        """Return the current link status."""
        return self._status

    @property
    def identity(self) -> Identity | None:
        """Return the identity set by the test."""
        return self._identity

    @property
    def inventory(self) -> Inventory | None:
        """Return the inventory set by the test."""
        return self._inventory

    @property
    def address(self) -> str | None:
        """Return the pretend address."""
        return self._address

    @property
    def settings(self) -> AcquisitionSettings:
        """Return default acquisition settings."""
        return self._settings

    def health(self) -> LinkHealth:
        """Return an idle link's statistics."""
        return LinkHealth(None, None, 0.0, 0.0, 0, 0.0, 0, [], [])

    def cancelled(self) -> bool:
        """Return True once the test says shutdown began."""
        return self.is_cancelled

    def connect_to(self, address: str) -> None:
        """Record the call."""
        self.calls.append(("connect_to", (address,)))

    def disconnect_link(self) -> None:
        """Record the call."""
        self.calls.append(("disconnect_link", ()))

    def retry_now(self) -> None:
        """Record the call."""
        self.calls.append(("retry_now", ()))

    def shutdown(self) -> None:
        """Record the call."""
        self.calls.append(("shutdown", ()))

    def set_live(self, on: bool) -> None:
        """Record the call."""
        self.calls.append(("set_live", (on,)))

    def set_module(self, module: int) -> None:
        """Record the call."""
        self.calls.append(("set_module", (module,)))

    def set_channels(self, channels: Sequence[int]) -> None:
        """Record the call."""
        self.calls.append(("set_channels", tuple(channels)))

    def set_interval(self, seconds: float) -> None:
        """Record the call."""
        self.calls.append(("set_interval", (seconds,)))

    def request(self, fn: Callable[[CTP10], T], on_done: Callable[[T], None] | None = None,
                on_error: Callable[[Exception], None] | None = None, *, busy: bool = False,
                label: str = "", timeout_s: float | None = None) -> int:
        """Record the request; run it now on the instrument if there is one."""
        request = Request(fn, on_done, on_error, busy, label, timeout_s)
        self.requests.append(request)
        if self.instrument is not None:
            self.run(request)
        return len(self.requests)

    def apply_setting(self, key: Hashable, fn: Callable[[CTP10], Any],
                      on_done: Callable[[Any], None] | None = None,
                      on_error: Callable[[Exception], None] | None = None) -> int:
        """Record the setting with its key and run it like a request."""
        request_id = self.request(fn, on_done, on_error)
        self.requests[request_id - 1].key = key
        return request_id

    def set_detector_wavelength(self, module: int, channel: int, nm: float,
                                on_done: Callable[[Any], None] | None = None,
                                on_error: Callable[[Exception], None] | None = None) -> int:
        """Send the wavelength (nm) like the controller: a re-applied setting."""
        return self.apply_setting(
            ("detector_wavelength_nm", module, channel),
            partial(write_control, group=detector_group(module, channel), name="wavelength_nm",
                    value=nm), on_done, on_error)

    def set_detector_unit(self, module: int, channel: int, unit: PowerUnit,
                          on_done: Callable[[Any], None] | None = None,
                          on_error: Callable[[Exception], None] | None = None) -> int:
        """Send the power unit like the controller: a re-applied setting."""
        return self.apply_setting(
            ("detector_power_unit", module, channel),
            partial(write_control, group=detector_group(module, channel), name="power_unit",
                    value=unit), on_done, on_error)

    # -- running --------------------------------------------------------------------------------
    def run(self, request: Request, instrument: CTP10 | None = None) -> None:
        """Run request on instrument (default: the given one) and call back as the link would."""
        ctp = instrument or self.instrument
        assert ctp is not None, "FakeLink: no instrument to run the request on"
        try:
            result = request.fn(ctp)
        except Exception as exc:
            request.outcome.append(exc)
            if request.on_error is not None:
                request.on_error(exc)
            return
        request.outcome.append(result)
        if request.on_done is not None:
            request.on_done(result)


def as_port(link: FakeLink) -> LinkPort:
    """Return link as the views see it (mypy checks FakeLink against LinkPort here)."""
    return link
