"""LinkPort: the link controller as views see it, so a button can be followed to SCPI by type.

Views, panels and the main window are typed against this Protocol, never against
`LinkController`; test fakes implement it too. Signals are declared as `SignalInstance`
attributes so `port.state_changed.connect(...)` type-checks for any QObject that has them.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, Protocol, TypeVar

from PySide6.QtCore import SignalInstance

from ctp10_gui.hardware.ctp10 import CTP10, Identity
from ctp10_gui.hardware.inventory import Inventory
from ctp10_gui.hardware.scpi import PowerUnit
from ctp10_gui.models.connection import AcquisitionSettings, LinkHealth, LinkStatus

T = TypeVar("T")

__all__ = ["LinkPort"]


class LinkPort(Protocol):
    """The GUI's one door to the CTP10: state, batches, identity, and queued requests."""

    state_changed: SignalInstance  # LinkStatus
    batch_received: SignalInstance  # SnapshotBatch, at most every 20 ms
    health_changed: SignalInstance  # LinkHealth, about twice a second
    identity_changed: SignalInstance  # Identity | None
    inventory_changed: SignalInstance  # Inventory | None: installed modules, channels, lasers
    link_event: SignalInstance  # (kind: str, text: str)
    instrument_error: SignalInstance  # str

    @property
    def status(self) -> LinkStatus:
        """Return the current link status."""
        ...

    @property
    def identity(self) -> Identity | None:
        """Return the identity of the instrument of the current or last session."""
        ...

    @property
    def inventory(self) -> Inventory | None:
        """Return what the instrument of the current session has installed, None before."""
        ...

    @property
    def address(self) -> str | None:
        """Return the canonical VISA address connected to, None before any."""
        ...

    @property
    def settings(self) -> AcquisitionSettings:
        """Return the acquisition settings in force."""
        ...

    def health(self) -> LinkHealth:
        """Return the link statistics now."""
        ...

    def cancelled(self) -> bool:
        """Return True once shutdown began (long procedures poll it)."""
        ...

    def connect_to(self, address: str) -> None:
        """Connect to address (host, host:port or VISA); ValueError names a bad address."""
        ...

    def disconnect_link(self) -> None:
        """Close the session and stop reconnecting."""
        ...

    def retry_now(self) -> None:
        """Open again at once."""
        ...

    def shutdown(self) -> None:
        """Stop the worker and close the session for good (the window is closing)."""
        ...

    def set_live(self, on: bool) -> None:
        """Switch live acquisition on or off."""
        ...

    def set_module(self, module: int) -> None:
        """Poll the detectors of module (1–20)."""
        ...

    def set_channels(self, channels: Sequence[int]) -> None:
        """Poll these channels (each 1–6) of the selected module."""
        ...

    def set_interval(self, seconds: float) -> None:
        """Poll every `seconds` s (0–10; 0 = as fast as the link allows)."""
        ...

    def request(self, fn: Callable[[CTP10], T], on_done: Callable[[T], None] | None = None,
                on_error: Callable[[Exception], None] | None = None, *, busy: bool = False,
                label: str = "", timeout_s: float | None = None) -> int:
        """Queue fn(ctp10) for the worker; callbacks run in the GUI thread; return its id."""
        ...

    def apply_setting(self, key: Hashable, fn: Callable[[CTP10], Any],
                      on_done: Callable[[Any], None] | None = None,
                      on_error: Callable[[Exception], None] | None = None) -> int:
        """Send a setting now and again after a reconnect to the same instrument."""
        ...

    def set_detector_wavelength(self, module: int, channel: int, nm: float,
                                on_done: Callable[[Any], None] | None = None,
                                on_error: Callable[[Exception], None] | None = None) -> int:
        """Set a detector's calibration wavelength (nm); re-applied after reconnect."""
        ...

    def set_detector_unit(self, module: int, channel: int, unit: PowerUnit,
                          on_done: Callable[[Any], None] | None = None,
                          on_error: Callable[[Exception], None] | None = None) -> int:
        """Set a detector's power unit; re-applied after a reconnect."""
        ...
