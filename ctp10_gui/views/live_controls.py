"""Acquisition controls: module, channels, poll interval, live on/off, detector λ and unit.

Every change goes to the link controller (which queues it for the worker); what is displayed
next to each control is what the instrument or the data stream reports back. Once the link has
read what is installed, only installed modules and channels can be picked; a pick that is not
installed (a saved one, or one made before the instrument answered) is refused with a sentence
naming what is, and live acquisition waits until the pick is valid again.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ctp10_gui import procedures
from ctp10_gui.hardware.ctp10 import Identity
from ctp10_gui.hardware.inventory import Inventory
from ctp10_gui.hardware.scpi import DETECTOR_CHANNELS, DETECTOR_MODULES, PowerUnit
from ctp10_gui.link.port import LinkPort
from ctp10_gui.models.connection import LinkHealth, LinkState, LinkStatus
from ctp10_gui.models.samples import SnapshotBatch
from ctp10_gui.procedures import DetectorReading

log = logging.getLogger(__name__)

INTERVALS_S: tuple[tuple[str, float], ...] = (
    ("1 ms (as fast as possible)", 0.001), ("10 ms (100 Hz)", 0.01), ("20 ms (50 Hz)", 0.02),
    ("50 ms (20 Hz)", 0.05), ("100 ms (10 Hz)", 0.1), ("200 ms (5 Hz)", 0.2),
    ("500 ms (2 Hz)", 0.5), ("1 s", 1.0), ("2 s", 2.0), ("5 s", 5.0), ("10 s", 10.0),
)
WAVELENGTH_RANGE_NM = (1240.0, 1680.0)
_USABLE = {LinkState.CONNECTED, LinkState.LIVE, LinkState.STALE, LinkState.BUSY}


class _Gather:
    """Collect one read-back per channel and call done once with all of them."""

    def __init__(self, channels: Sequence[int], done: Callable[[dict[int, Any]], None],
                 failed: Callable[[Exception], None]) -> None:
        self._left = set(channels)
        self._results: dict[int, Any] = {}
        self._done = done
        self._failed = failed
        self._error: Exception | None = None

    def ok(self, channel: int) -> Callable[[Any], None]:
        """Return the on_done callback of channel's request."""
        return lambda value: self._finish(channel, value, None)

    def error(self, channel: int) -> Callable[[Exception], None]:
        """Return the on_error callback of channel's request."""
        return lambda exc: self._finish(channel, None, exc)

    def _finish(self, channel: int, value: Any, exc: Exception | None) -> None:
        self._left.discard(channel)
        if exc is not None:
            self._error = self._error or exc
        else:
            self._results[channel] = value
        if not self._left:
            if self._error is not None:
                self._failed(self._error)
            if self._results:
                self._done(self._results)


def _slot_text(slot: int, inventory: Inventory | None) -> str:
    """Return a module list entry: "4 · IL RL OPM2, 4 channels", "3 · empty", or "3"."""
    if inventory is None or not inventory.known:
        return str(slot)
    name = inventory.slots.get(slot)
    if not inventory.has_module(slot):
        return f"{slot} · {name or 'empty'}"
    return f"{slot} · {name or 'detectors'}, {len(inventory.channels(slot))} channels"


class LiveControls(QWidget):
    """Form of the live-acquisition settings; emits what the instrument read back."""

    wavelengths_read = Signal(object)  # dict[int, float] nm by channel
    unit_read = Signal(str)  # "dBm" or "mW"
    interval_changed = Signal(float)  # s
    pick_refused = Signal(str)  # the sentence refusing a module or channel not installed
    pick_changed = Signal()  # the user changed module, channels or live on/off

    def __init__(self, controller: LinkPort, *, module: int, channels: Sequence[int],
                 interval_s: float, live: bool, unit: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self._module = module
        self._channels = tuple(channels)
        self._unit = unit
        self._state: LinkState | None = None
        self._read_module: int | None = None
        self._inventory: Inventory | None = None
        self._refusal = ""  # why the current pick is not installed, "" when it is
        self._live_held = False  # live was wanted but waits for a valid pick
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.module_combo = QComboBox(self)
        for slot in range(DETECTOR_MODULES[0], DETECTOR_MODULES[1] + 1):
            self.module_combo.addItem(str(slot), slot)
        self.module_combo.setCurrentIndex(self.module_combo.findData(module))
        self.module_combo.setToolTip("Detector module slot (1–20)")
        # Its width does not follow the module names read at connect: the dock keeps its size.
        self.module_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.module_combo.setMinimumContentsLength(6)
        form.addRow("Module", self.module_combo)
        boxes = QHBoxLayout()
        self.channel_boxes: dict[int, QCheckBox] = {}
        for ch in range(DETECTOR_CHANNELS[0], DETECTOR_CHANNELS[1] + 1):
            box = QCheckBox(str(ch), self)
            box.setChecked(ch in self._channels)
            box.setToolTip(f"Acquire channel {ch}")
            box.toggled.connect(self._channels_edited)
            boxes.addWidget(box)
            self.channel_boxes[ch] = box
        form.addRow("Channels", boxes)
        self.interval_combo = QComboBox(self)
        for text, seconds in INTERVALS_S:
            self.interval_combo.addItem(text, seconds)
        self._select_interval(interval_s)
        self.interval_combo.setToolTip("Time between snapshots of all selected channels")
        form.addRow("Poll interval", self.interval_combo)
        self.live_box = QCheckBox("Live acquisition", self)
        self.live_box.setChecked(live)
        self.live_box.setToolTip("Off: the link is only checked every 2 s")
        form.addRow("", self.live_box)
        self.acquiring_label = QLabel("—", self)
        self.acquiring_label.setProperty("role", "hint")
        self.acquiring_label.setWordWrap(True)
        self.acquiring_label.setToolTip("What the data stream actually carries (read back)")
        form.addRow("Acquiring", self.acquiring_label)
        row = QHBoxLayout()
        self.wavelength_spin = QDoubleSpinBox(self)
        self.wavelength_spin.setRange(*WAVELENGTH_RANGE_NM)
        self.wavelength_spin.setDecimals(3)
        self.wavelength_spin.setSuffix(" nm")
        self.wavelength_spin.setValue(1550.0)
        self.wavelength_spin.setToolTip("Calibration wavelength of the selected detectors")
        row.addWidget(self.wavelength_spin)
        self.wavelength_button = QPushButton("Apply", self)
        self.wavelength_button.setToolTip("Send the wavelength to every selected channel")
        self.wavelength_button.clicked.connect(self.apply_wavelength)
        row.addWidget(self.wavelength_button)
        form.addRow("Detector λ", row)
        self.wavelength_label = QLabel("—", self)
        self.wavelength_label.setProperty("role", "hint")
        self.wavelength_label.setToolTip("Wavelength read back from the instrument")
        form.addRow("λ read back", self.wavelength_label)
        self.unit_combo = QComboBox(self)
        self.unit_combo.addItems(["dBm", "mW"])
        self.unit_combo.setCurrentText(unit)
        self.unit_combo.setToolTip("Power unit of the detectors and of the readouts")
        form.addRow("Unit", self.unit_combo)
        self.message = QLabel("", self)
        self.message.setWordWrap(True)
        self.message.setProperty("role", "error")
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addStretch(1)
        # Channel clicks come in bursts; send one set_channels after the user paused.
        self._channel_timer = QTimer(self)
        self._channel_timer.setSingleShot(True)
        self._channel_timer.setInterval(300)
        self._channel_timer.timeout.connect(self._send_channels)
        self.module_combo.currentIndexChanged.connect(
            lambda i: self._module_edited(int(self.module_combo.itemData(i))) if i >= 0 else None)
        self.interval_combo.currentIndexChanged.connect(self._interval_edited)
        self.live_box.toggled.connect(self._live_edited)
        self.unit_combo.currentTextChanged.connect(self.request_unit)
        controller.state_changed.connect(self._status_changed)
        controller.batch_received.connect(self._batch)
        controller.identity_changed.connect(self._identity_changed)
        controller.inventory_changed.connect(self.set_inventory)
        controller.health_changed.connect(self._health)
        self._achieved_hz: float | None = None
        self._stream: tuple[int, tuple[int, ...]] | None = None
        if controller.inventory is not None:  # a link that was open before this panel
            self.set_inventory(controller.inventory)

    # ---- user edits ---------------------------------------------------------------------
    @property
    def module(self) -> int:
        """Return the module the user selected."""
        return self._module

    @property
    def channels(self) -> tuple[int, ...]:
        """Return the channels the user selected."""
        return self._channels

    @property
    def wants_live(self) -> bool:
        """Return True if live acquisition is on, or waits only for a valid pick."""
        return self.live_box.isChecked() or self._live_held

    @property
    def refusal(self) -> str:
        """Return the sentence refusing the current pick, "" when it is installed."""
        return self._refusal

    def select_module(self, module: int) -> None:
        """Pick module (1–20) as the user would in the list; ValueError outside 1–20."""
        index = self.module_combo.findData(module)
        if index < 0:
            low, high = DETECTOR_MODULES
            raise ValueError(f"module must be within {low}–{high}, got {module}")
        self.module_combo.setCurrentIndex(index)

    @property
    def interval_s(self) -> float:
        """Return the selected poll interval (s, 0 = as fast as possible)."""
        return float(self.interval_combo.currentData())

    def _module_edited(self, module: int) -> None:
        self._module = module
        self.controller.set_module(module)
        self._read_module = None
        self._offer_channels()
        self._check_pick()
        self.pick_changed.emit()

    def _channels_edited(self) -> None:
        chosen = tuple(ch for ch, box in self.channel_boxes.items() if box.isChecked())
        if not chosen:
            # At least one channel: undo the last uncheck rather than poll nothing.
            self.message.setText("At least one channel must stay selected.")
            for ch in self._channels:
                self.channel_boxes[ch].setChecked(True)
            return
        self.message.setText("")
        self._channels = chosen
        self._channel_timer.start()
        self._offer_channels()
        self._check_pick()
        self.pick_changed.emit()

    def _send_channels(self) -> None:
        self.controller.set_channels(self._channels)
        self._read_module = None

    def _interval_edited(self) -> None:
        self.controller.set_interval(self.interval_s)
        self.interval_changed.emit(self.interval_s)

    def _live_edited(self, on: bool) -> None:
        self.pick_changed.emit()
        if on and self._refusal:
            self._live_held = True
            self._set_live_box(False)
            self._say_refusal()
            return
        self._live_held = False
        self.controller.set_live(on)

    # ---- what is installed ----------------------------------------------------------------
    def set_inventory(self, inventory: Inventory | None) -> None:
        """Offer only what inventory says is installed (None: not known, everything)."""
        self._inventory = inventory
        model = self.module_combo.model()
        assert isinstance(model, QStandardItemModel)
        for row in range(model.rowCount()):
            item = model.item(row)
            slot = int(item.data(Qt.ItemDataRole.UserRole))
            why = inventory.module_refusal(slot) if inventory is not None else ""
            item.setText(_slot_text(slot, inventory))
            item.setEnabled(not why)
            item.setToolTip(why or f"Detector module slot {slot}")
        view = self.module_combo.view()
        view.setMinimumWidth(view.sizeHintForColumn(0) + 2 * view.frameWidth())  # names unclipped
        self._offer_channels()
        if inventory is not None:
            self._check_pick(announce=True)

    def _offer_channels(self) -> None:
        """Enable the module's installed channels; a ticked missing one stays, to be unticked."""
        inventory = self._inventory
        present = set(inventory.channels(self._module)) if inventory is not None else None
        for ch, box in self.channel_boxes.items():
            installed = present is None or ch in present
            box.setEnabled(installed or box.isChecked())
            why = inventory.channel_refusal(self._module, (ch,)) if inventory is not None else ""
            box.setToolTip(why or f"Acquire channel {ch}")

    def _check_pick(self, *, announce: bool = False) -> None:
        """Refuse a module or channels not installed: say why once and hold live until valid."""
        inventory = self._inventory
        why = inventory.channel_refusal(self._module, self._channels) if inventory else ""
        was, self._refusal = self._refusal, why
        if why:
            self.message.setText(why)
            if self.live_box.isChecked():
                self._live_held = True
                self._set_live_box(False)
                self.controller.set_live(False)
            if announce or why != was:
                self._say_refusal()
            return
        if was:
            self.message.setText("")
        if self._live_held:
            self._live_held = False
            self._set_live_box(True)
            self.controller.set_live(True)

    def _say_refusal(self) -> None:
        log.info("pick refused: %s", self._refusal)
        self.pick_refused.emit(self._refusal)

    def _set_live_box(self, on: bool) -> None:
        self.live_box.blockSignals(True)
        self.live_box.setChecked(on)
        self.live_box.blockSignals(False)

    def apply_wavelength(self) -> None:
        """Send the wavelength to the selected channels; show the read-back."""
        value = self.wavelength_spin.value()
        if not self._usable():
            self.message.setText("Not connected: the wavelength cannot be sent.")
            return
        if self._refusal:
            self._say_refusal()
            return
        self.wavelength_button.setEnabled(False)
        gather = _Gather(self._channels, self._wavelengths_done, self._request_failed)
        for ch in self._channels:
            # Through the controller's helper so a reconnect re-applies it.
            self.controller.set_detector_wavelength(self._module, ch, value,
                                                    gather.ok(ch), gather.error(ch))

    def request_unit(self, unit: str) -> None:
        """Set the detectors' power unit (and the readouts' once read back)."""
        if self.unit_combo.currentText() != unit:
            self.unit_combo.blockSignals(True)
            self.unit_combo.setCurrentText(unit)
            self.unit_combo.blockSignals(False)
        if not self._usable() or self._refusal:
            # Nothing to read back from: the readouts still switch, the instrument follows
            # the next time the unit is chosen while connected to an installed pick.
            self._unit_done({0: PowerUnit.MW if unit == "mW" else PowerUnit.DBM})
            return
        target = PowerUnit.MW if unit == "mW" else PowerUnit.DBM
        gather = _Gather(self._channels, self._unit_done, self._request_failed)
        for ch in self._channels:
            self.controller.set_detector_unit(self._module, ch, target,
                                              gather.ok(ch), gather.error(ch))

    def read_back(self) -> None:
        """Read λ and unit of the selected detectors from the instrument."""
        if not self._usable() or self._refusal:
            return  # a detector that is not installed never answers
        self._read_module = self._module
        self.controller.request(
            partial(procedures.read_detectors, module=self._module, channels=self._channels),
            self._detectors_read, self._request_failed)

    # ---- controller events --------------------------------------------------------------
    def _usable(self) -> bool:
        return self._state in _USABLE

    def _status_changed(self, status: LinkStatus) -> None:
        was = self._state
        self._state = status.state
        # The link can switch live off by itself (a different instrument answers): the box
        # must show the real wish, or ticking it again would look like a no-op.
        live = status.live
        if self.live_box.isChecked() != live:
            self._set_live_box(live)
        usable = self._usable()
        self.wavelength_button.setEnabled(usable)
        self._show_acquiring()
        if usable and was not in _USABLE:
            self.read_back()

    def _identity_changed(self, identity: Identity | None) -> None:
        if identity is not None and self._usable():
            self.read_back()

    def _batch(self, batch: SnapshotBatch) -> None:
        stream = (int(batch.module), tuple(batch.channels))
        if stream != self._stream:
            self._stream = stream
            self._show_acquiring()
            if self._read_module is None:
                self.read_back()

    def _health(self, health: LinkHealth) -> None:
        self._achieved_hz = float(health.achieved_hz)
        self._show_acquiring()

    def _show_acquiring(self) -> None:
        if self._state is not None and self._state not in (LinkState.LIVE, LinkState.STALE):
            # A rate of "0.0 Hz" beside an old stream reads like a fault; say why instead.
            why = ("live acquisition is off" if self._state is LinkState.CONNECTED
                   else f"link {self._state.label.lower()}")
            self.acquiring_label.setText(f"nothing: {why}")
            return
        if self._stream is None:
            self.acquiring_label.setText("—")
            return
        module, chans = self._stream
        rate = "" if self._achieved_hz is None else f" at {self._achieved_hz:.1f} Hz"
        self.acquiring_label.setText(
            f"module {module}, channels {', '.join(map(str, chans))}{rate}")

    def _detectors_read(self, result: dict[int, DetectorReading]) -> None:
        waves = {ch: reading.wavelength_nm for ch, reading in result.items()}
        self._show_wavelengths(waves)
        units = {"mW" if reading.unit is PowerUnit.MW else "dBm" for reading in result.values()}
        if len(units) == 1:
            unit = units.pop()
            self._set_unit_combo(unit)
            self.unit_read.emit(unit)

    def _wavelengths_done(self, result: dict[int, Any]) -> None:
        self.wavelength_button.setEnabled(self._usable())
        self.message.setText("")
        self._show_wavelengths({ch: float(v) for ch, v in result.items()})

    def _show_wavelengths(self, waves: dict[int, float]) -> None:
        values = sorted({round(v, 3) for v in waves.values() if math.isfinite(v)})
        if len(values) == 1:
            self.wavelength_label.setText(f"{values[0]:.3f} nm")
            self.wavelength_spin.setValue(values[0])
        elif values:
            self.wavelength_label.setText(
                ", ".join(f"CH{ch} {v:.3f}" for ch, v in sorted(waves.items())) + " nm")
        self.wavelengths_read.emit(dict(waves))

    def _unit_done(self, result: dict[int, Any]) -> None:
        units = {"mW" if v is PowerUnit.MW else "dBm" for v in result.values()}
        unit = units.pop() if len(units) == 1 else "dBm"
        self._set_unit_combo(unit)
        self.message.setText("")
        self.unit_read.emit(unit)

    def _set_unit_combo(self, unit: str) -> None:
        self._unit = unit
        self.unit_combo.blockSignals(True)
        self.unit_combo.setCurrentText(unit)
        self.unit_combo.blockSignals(False)

    def _request_failed(self, exc: Exception) -> None:
        self.wavelength_button.setEnabled(self._usable())
        self.message.setText(str(exc))
        log.warning("live-control request failed: %s", exc)

    def _select_interval(self, seconds: float) -> None:
        for i in range(self.interval_combo.count()):
            if abs(float(self.interval_combo.itemData(i)) - seconds) < 1e-9:
                self.interval_combo.setCurrentIndex(i)
                return
        label = f"{seconds * 1e3:g} ms" if seconds < 1 else f"{seconds:g} s"
        self.interval_combo.addItem(label, seconds)
        self.interval_combo.setCurrentIndex(self.interval_combo.count() - 1)
