"""Always-visible connection badges: what the link is doing now, with the reason as tooltip."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QWidget

from ctp10_gui.link.port import LinkPort
from ctp10_gui.models.connection import LinkState, LinkStatus
from ctp10_gui.models.samples import SnapshotBatch
from ctp10_gui.views.theme import repolish

# States whose badge text changes with time (countdown, age) and needs a ticking refresh.
_TICKING = {LinkState.STALE, LinkState.RECONNECTING, LinkState.OFFLINE}
BADGE_KINDS = (
    "disconnected", "connecting", "connected", "live", "paused", "stale", "reconnecting",
    "offline", "busy", "simulator",
)


@dataclass(frozen=True)
class BadgeSpec:
    """One badge to show: style kind, text and the tooltip explaining why."""

    kind: str
    text: str
    tooltip: str


def _age_text(age_s: float) -> str:
    """Return a short age: "0.4 s", "12 s", "3 min 05 s", "2 h 04 min" (age in s, ≥ 0)."""
    if age_s < 10:
        return f"{age_s:.1f} s"
    if age_s < 60:
        return f"{age_s:.0f} s"
    if age_s < 3600:
        return f"{int(age_s // 60)} min {int(age_s % 60):02d} s"
    return f"{int(age_s // 3600)} h {int(age_s % 3600 // 60):02d} min"


def badge_specs(
    status: LinkStatus, now: float, last_data_t: float | None, *, address: str | None,
    simulator: bool, reply_deadline_s: float | None = None,
) -> list[BadgeSpec]:
    """Return the badges for a LinkStatus at monotonic time now (s), newest data at last_data_t.

    reply_deadline_s: the silence (s) after which a stale link reconnects, said in its tooltip.
    """
    state = status.state
    reason = status.reason or ""
    where = status.address or address or "the instrument"
    specs: list[BadgeSpec] = []
    if state is LinkState.DISCONNECTED:
        specs.append(BadgeSpec("disconnected", "Disconnected",
                               reason or "Not connected. Connect with Ctrl+K."))
    elif state is LinkState.CONNECTING:
        specs.append(BadgeSpec("connecting", "Connecting…", reason or f"Opening {where}"))
    elif state is LinkState.CONNECTED:
        specs.append(BadgeSpec("connected", "Connected", f"Connected to {where}"))
        warning = status.warning
        if warning:
            specs.append(BadgeSpec("stale", "Different instrument",
                                   f"{warning}. Nothing was re-applied; turn Live on to use it."))
        specs.append(BadgeSpec("paused", "Live off",
                               "Live acquisition is off; the link is still checked every 2 s."))
    elif state is LinkState.LIVE and status.awaiting_reply:
        specs.append(BadgeSpec("connected", "Connected", f"Connected to {where}"))
        specs.append(BadgeSpec("connecting", "Waiting for data…",
                               f"{where} opened; no measurement has answered yet"))
    elif state is LinkState.LIVE:
        specs.append(BadgeSpec("connected", "Connected", f"Connected to {where}"))
        last = ("" if last_data_t is None
                else f"; last reply {_age_text(max(0.0, now - last_data_t))} ago")
        specs.append(BadgeSpec("live", "Live Data", f"Fresh data from {where}{last}"))
    elif state is LinkState.BUSY and status.busy_elsewhere:
        specs.append(BadgeSpec("connected", "Connected", f"Connected to {where}"))
        specs.append(BadgeSpec(
            "busy", f"Busy: {reason}",
            f"{where} runs a scan this app did not start (its front panel or another client): "
            "live data is paused and resumes by itself when the scan ends (this is not a dead "
            "link)."))
    elif state is LinkState.BUSY:
        specs.append(BadgeSpec("connected", "Connected", f"Connected to {where}"))
        # The reason is the operation's label ("Sweeping", "Fetching traces").
        label = reason if reason and len(reason) <= 24 else "Busy"
        specs.append(BadgeSpec(
            "busy", label,
            f"{reason or 'A long operation'} is running: live data is paused and resumes "
            "by itself afterwards (this is not a dead link)."))
    elif state is LinkState.STALE:
        since = last_data_t if last_data_t is not None else status.since
        age = max(0.0, now - since)
        kept = ("" if reply_deadline_s is None else
                f". The session is kept: it reconnects only if nothing answers within "
                f"{reply_deadline_s:g} s of the last reply")
        specs.append(BadgeSpec("stale", f"Stale · {_age_text(age)}",
                               f"No reply for {age:.1f} s from {where}"
                               + (f" ({reason})" if reason else "") + kept))
    elif state is LinkState.RECONNECTING:
        if status.next_attempt_at is not None and status.next_attempt_at > now:
            wait = f"next try in {math.ceil(status.next_attempt_at - now)} s"
        else:
            wait = "trying now…"
        specs.append(BadgeSpec(
            "reconnecting", f"Reconnecting {status.attempt}/{status.max_attempts} · {wait}",
            f"Link to {where} lost: {reason or 'no reply'}. Attempt {status.attempt} of "
            f"{status.max_attempts}; Ctrl+R retries at once."))
    elif state is LinkState.OFFLINE:
        if status.next_attempt_at is not None and status.next_attempt_at > now:
            text = f"Offline · next try in {_age_text(status.next_attempt_at - now)}"
        elif status.next_attempt_at is not None:
            text = "Offline · trying now…"
        else:
            text = "Offline"
        specs.append(BadgeSpec("offline", text,
                               f"{where}: {reason or 'no reply'}. "
                               "Press Retry now (Ctrl+R) to try again."))
    else:  # a state added later still gets an honest, visible badge
        specs.append(BadgeSpec("connecting", state.name.title(), reason))
    if simulator and state is not LinkState.DISCONNECTED:
        specs.append(BadgeSpec("simulator", "Simulator",
                               "Connected to the built-in simulator, not to an instrument."))
    return specs


class StatusBadges(QWidget):
    """Row of badges following a LinkController; Retry button appears when Offline."""

    retry_requested = Signal()
    edit_address_requested = Signal()

    def __init__(
        self, controller: LinkPort, *, clock: Callable[[], float] = time.monotonic,
        is_simulator: Callable[[], bool] = lambda: False, parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("statusBadges")
        self._controller = controller
        self._clock = clock
        self._is_simulator = is_simulator
        self._status: LinkStatus = controller.status
        self._last_data_t: float | None = None
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(6)
        self._labels: list[QLabel] = []
        for _ in range(3):  # at most state + detail + simulator at once
            label = QLabel(self)
            label.setProperty("badge", "disconnected")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
            label.hide()
            layout.addWidget(label)
            self._labels.append(label)
        self.retry_button = QPushButton("Retry now", self)
        self.retry_button.setToolTip("Try to reconnect at once (Ctrl+R)")
        self.retry_button.clicked.connect(self.retry_requested)
        self.retry_button.hide()
        layout.addWidget(self.retry_button)
        self.edit_address_button = QPushButton("Edit address…", self)
        self.edit_address_button.setToolTip("Connect to another address (Ctrl+K)")
        self.edit_address_button.clicked.connect(self.edit_address_requested)
        self.edit_address_button.hide()
        layout.addWidget(self.edit_address_button)
        # Why the link is offline, as a sentence where the user looks, not only in a tooltip.
        self.offline_message = QLabel(self)
        self.offline_message.setObjectName("offlineMessage")
        self.offline_message.setWordWrap(True)
        self.offline_message.setSizePolicy(QSizePolicy.Policy.Expanding,
                                           QSizePolicy.Policy.Preferred)
        self.offline_message.hide()
        layout.addWidget(self.offline_message, 1)
        layout.addStretch(1)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        # 10 Hz, like the readouts: the badge age and the card ages move together.
        self._ticker = QTimer(self)
        self._ticker.setInterval(100)
        self._ticker.timeout.connect(self.refresh)
        controller.state_changed.connect(self.set_status)
        controller.batch_received.connect(self.note_batch)
        self.refresh()

    @property
    def specs(self) -> list[BadgeSpec]:
        """Return the badges currently shown (for tests and the big-numbers mirror)."""
        return badge_specs(self._status, self._clock(), self._last_data_t,
                           address=self._controller.address,
                           simulator=self._is_simulator(),
                           reply_deadline_s=self._controller.settings.give_up_s())

    def set_status(self, status: LinkStatus) -> None:
        """Follow a new LinkStatus from the controller."""
        self._status = status
        if status.state in _TICKING:
            self._ticker.start()
        else:
            self._ticker.stop()
        self.refresh()

    def note_batch(self, batch: SnapshotBatch) -> None:
        """Remember the monotonic time (s) of the newest good sample in a SnapshotBatch."""
        good = batch.status == 0
        if good.any():
            rows = good.any(axis=1).nonzero()[0]
            self._last_data_t = float(batch.t_mono[rows[-1]])

    def refresh(self) -> None:
        """Redraw the badges from the current status and clock."""
        specs = self.specs
        for label, spec in zip(self._labels, specs, strict=False):
            if label.property("badge") != spec.kind:
                label.setProperty("badge", spec.kind)
                repolish(label)
            label.setText(spec.text)
            label.setToolTip(spec.tooltip)
            label.setAccessibleName(f"{spec.text}: {spec.tooltip}")
            label.show()
        for label in self._labels[len(specs):]:
            label.hide()
        offline = self._status.state is LinkState.OFFLINE
        self.retry_button.setVisible(offline)
        self.edit_address_button.setVisible(offline)
        message = self._status.reason if offline else ""
        if self.offline_message.text() != message:
            self.offline_message.setText(message)
        self.offline_message.setVisible(offline and bool(message))
