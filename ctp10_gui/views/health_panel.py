"""Link-health panel: latency, achieved vs requested rate, uptime, reconnects, instrument errors."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from PySide6.QtWidgets import (
    QFormLayout,
    QLabel,
    QListWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ctp10_gui.link.port import LinkPort
from ctp10_gui.models.connection import LinkHealth
from ctp10_gui.share.client import StreamClient

MAX_ERRORS_SHOWN = 50
CLIENT_COLUMNS = ["Address", "Path", "Since", "Sent", "Dropped"]


def _ms(seconds: float | None) -> str:
    return "—" if seconds is None or not math.isfinite(seconds) else f"{seconds * 1e3:.1f} ms"


def format_uptime(seconds: float) -> str:
    """Return an uptime (s ≥ 0) as "42 s", "12 min 05 s" or "3 h 07 min"."""
    s = int(max(0.0, seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def format_rate(achieved_hz: float, requested_hz: float) -> str:
    """Return "19.8 of 20.0 Hz (99 %)", or "live off" when nothing is requested (Hz)."""
    if requested_hz <= 0:
        return f"{achieved_hz:.1f} Hz (live off)"
    share = 100.0 * achieved_hz / requested_hz if math.isfinite(requested_hz) else math.nan
    if not math.isfinite(share):
        return f"{achieved_hz:.1f} Hz (as fast as possible)"
    return f"{achieved_hz:.1f} of {requested_hz:.1f} Hz ({share:.0f} %)"


class HealthPanel(QWidget):
    """Shows the controller's LinkHealth and the instrument errors it reports."""

    def __init__(self, controller: LinkPort, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("healthPanel")
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.latency_label = QLabel("—", self)
        self.latency_label.setToolTip("Round-trip time of one snapshot (median / 95th percentile)")
        self.rate_label = QLabel("—", self)
        self.rate_label.setToolTip("Snapshots per second achieved vs asked for")
        self.uptime_label = QLabel("—", self)
        self.uptime_label.setToolTip("Time since the current session opened")
        self.errors_label = QLabel("0", self)
        self.errors_label.setToolTip("Failed replies since the app started")
        self.reconnects_label = QLabel("0", self)
        form.addRow("Latency p50 / p95", self.latency_label)
        form.addRow("Rate", self.rate_label)
        form.addRow("Uptime", self.uptime_label)
        form.addRow("Reply errors", self.errors_label)
        form.addRow("Reconnects", self.reconnects_label)
        layout.addLayout(form)
        layout.addWidget(QLabel("Reconnect history", self))
        self.history_list = QListWidget(self)
        self.history_list.setToolTip("What happened to the link, and why (newest first)")
        self.history_list.setWordWrap(True)  # the reason is the point: never cut it off
        layout.addWidget(self.history_list, 1)
        layout.addWidget(QLabel("Last instrument errors", self))
        self.error_list = QListWidget(self)
        self.error_list.setToolTip("Errors the instrument reported (SYST:ERR?), newest first")
        self.error_list.setWordWrap(True)
        layout.addWidget(self.error_list, 1)
        self.clients_label = QLabel("Stream clients: not serving", self)
        layout.addWidget(self.clients_label)
        self.client_list = QTreeWidget(self)
        self.client_list.setObjectName("streamClients")
        self.client_list.setHeaderLabels(CLIENT_COLUMNS)
        self.client_list.setRootIsDecorated(False)
        self.client_list.setToolTip("Programs reading the live stream; dropped: frames a slow "
                                    "client lost (oldest first)")
        layout.addWidget(self.client_list, 1)
        self._history_shown: list[tuple[float, str]] = []
        controller.health_changed.connect(self.set_health)
        controller.instrument_error.connect(self.add_instrument_error)

    def set_health(self, health: LinkHealth) -> None:
        """Show a LinkHealth."""
        self.latency_label.setText(f"{_ms(health.latency_p50_s)} / {_ms(health.latency_p95_s)}")
        self.rate_label.setText(format_rate(health.achieved_hz, health.requested_hz))
        self.uptime_label.setText(format_uptime(health.uptime_s) if health.uptime_s > 0 else "—")
        self.errors_label.setText(str(health.errors))
        self.reconnects_label.setText(str(health.reconnects))
        history = list(health.history)
        if history != self._history_shown:
            self._history_shown = history
            self.history_list.clear()
            for wall, text in reversed(history):
                stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(wall))
                self.history_list.addItem(f"{stamp}  {text}")
        for text in health.last_instrument_errors:
            self._add_error_once(text)

    def add_instrument_error(self, text: str) -> None:
        """Show one instrument error (newest first)."""
        stamp = time.strftime("%H:%M:%S")
        self.error_list.insertItem(0, f"{stamp}  {text}")
        while self.error_list.count() > MAX_ERRORS_SHOWN:
            self.error_list.takeItem(self.error_list.count() - 1)

    def _add_error_once(self, text: str) -> None:
        # The health snapshot repeats the last errors every update; list each only once.
        for i in range(self.error_list.count()):
            item = self.error_list.item(i)
            if item is not None and item.text().endswith(text):
                return
        self.add_instrument_error(text)

    def set_stream_clients(self, clients: Sequence[StreamClient] | None) -> None:
        """List the stream server's clients (None: the server is not running)."""
        if clients is None:
            self.clients_label.setText("Stream clients: not serving")
        else:
            self.clients_label.setText(f"Stream clients: {len(clients)}")
        rows = [[c.address, c.path, time.strftime("%H:%M:%S", time.localtime(c.since)),
                 str(c.sent), str(c.dropped)] for c in clients or ()]
        tree = self.client_list
        while tree.topLevelItemCount() > len(rows):
            tree.takeTopLevelItem(tree.topLevelItemCount() - 1)
        for i, row in enumerate(rows):
            item = tree.topLevelItem(i)
            if item is None:
                tree.addTopLevelItem(QTreeWidgetItem(row))
                continue
            for column, text in enumerate(row):
                if item.text(column) != text:
                    item.setText(column, text)
