"""Instrument settings panels: global sweep, TLS 1–4, reference lasers 1–10, detectors.

Every field is a ControlForm row built from the driver's Control declarations. The panel fills
from the instrument when the link becomes Connected/Live (first connect and every reconnect)
and is read-only, saying why, whenever the link cannot take a command.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ctp10_gui import procedures
from ctp10_gui.hardware.laser_models import laser_installed, laser_model
from ctp10_gui.hardware.scpi import (
    DETECTOR_CHANNELS,
    DETECTOR_MODULES,
    REFERENCE_LASERS,
    TUNABLE_LASERS,
    Control,
    Detector,
    ReferenceLaser,
    Sweep,
    TunableLaser,
)
from ctp10_gui.link.port import LinkPort
from ctp10_gui.models.connection import LinkState, LinkStatus
from ctp10_gui.procedures import (
    SWEEP_GROUP,
    TunableLaserInfo,
    detector_group,
    laser_model_controls,
    reference_laser_group,
    tls_group,
)
from ctp10_gui.views.control_form import ControlForm
from ctp10_gui.views.theme import repolish

log = logging.getLogger(__name__)

# Reference lasers take seconds to switch on; poll the state until it matches (s).
OUTPUT_CONFIRM_S = 15.0
_EDITABLE = {LinkState.CONNECTED, LinkState.LIVE}
_WHY_READ_ONLY = {
    LinkState.DISCONNECTED: "not connected",
    LinkState.CONNECTING: "connecting",
    LinkState.RECONNECTING: "link lost, reconnecting",
    LinkState.OFFLINE: "offline: reconnecting gave up",
    LinkState.STALE: "the instrument stopped answering",
    LinkState.BUSY: "a sweep or transfer is running",
}


# The reference-laser fields: its frequency in THz; GHz and Hz set the same wavelength and are
# there for scripts (the driver), not as three rows of one value.
RLASER_FIELDS = tuple(c for c in ReferenceLaser.controls if c.unit not in ("GHz", "Hz"))


def read_only_reason(status: LinkStatus | None) -> str:
    """Return why settings cannot be sent in a LinkStatus ("" when they can)."""
    if status is None:
        return "not connected"
    state = status.state
    if state in _EDITABLE:
        return ""
    why = _WHY_READ_ONLY.get(state, state.label.lower())
    if state is LinkState.RECONNECTING and status.max_attempts:
        why = f"{why} (attempt {status.attempt}/{status.max_attempts})"
    if status.reason and state is not LinkState.BUSY:
        why = f"{why}: {status.reason}"
    return why


class _ChannelPage(QWidget):
    """One tab: an optional selector row, an info line and the ControlForm."""

    def __init__(self, form: ControlForm, selector: QWidget | None, parent: QWidget) -> None:
        super().__init__(parent)
        self.form = form
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        if selector is not None:
            layout.addWidget(selector)
        self.info = QLabel("", self)
        self.info.setProperty("role", "hint")
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.info)
        layout.addWidget(form)
        layout.addStretch(1)
        form.setParent(self)


class InstrumentPanel(QWidget):
    """Tabs of instrument settings, each field validated, sent, read back via the controller."""

    refreshed = Signal()  # every form has been re-read from the instrument

    def __init__(self, controller: LinkPort, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("instrumentPanel")
        self._controller = controller
        self._status: LinkStatus | None = None
        self._pending_refresh: set[str] = set()

        self.banner = QLabel("", self)
        self.banner.setObjectName("readOnlyBanner")
        self.banner.setProperty("role", "hint")
        self.banner.setWordWrap(True)
        self.reload_button = QPushButton("Read all", self)
        self.reload_button.setToolTip("Read every setting shown here from the instrument again")
        self.reload_button.clicked.connect(self.refresh)
        top = QHBoxLayout()
        top.addWidget(self.banner, 1)
        top.addStretch(0)
        top.addWidget(self.reload_button, 0, Qt.AlignmentFlag.AlignRight)

        # -- global sweep --
        self.sweep_form = ControlForm(controller, SWEEP_GROUP, Sweep.controls)
        sweep_page = _ChannelPage(self.sweep_form, None, self)
        sweep_page.info.setText(
            "Scan range and sampling of every sweep; the TLS ranges below must cover it."
        )

        # -- TLS 1–4 --
        self.tls_select = QComboBox(self)
        self.tls_select.setObjectName("tlsSelect")
        for n in range(TUNABLE_LASERS[0], TUNABLE_LASERS[1] + 1):
            self.tls_select.addItem(f"TLS {n}", n)
        self.tls_form = ControlForm(
            controller, tls_group(1), TunableLaser.controls, suggest=("speed_nm_s",)
        )
        self.tls_page = _ChannelPage(self.tls_form, _row("Tunable laser", self.tls_select), self)
        self.tls_select.currentIndexChanged.connect(self._tls_changed)
        self.tls_form.value_read.connect(self._tls_value_read)

        # -- reference lasers 1–10 --
        self.rlaser_select = QComboBox(self)
        self.rlaser_select.setObjectName("rlaserSelect")
        for r in range(REFERENCE_LASERS[0], REFERENCE_LASERS[1] + 1):
            self.rlaser_select.addItem(f"Laser {r}", r)
        self.rlaser_form = ControlForm(
            controller,
            reference_laser_group(1),
            RLASER_FIELDS,
            confirm_s={"output": OUTPUT_CONFIRM_S},
        )
        self.rlaser_page = _ChannelPage(
            self.rlaser_form, _row("Reference laser", self.rlaser_select), self
        )
        self.rlaser_select.currentIndexChanged.connect(self._rlaser_changed)

        # -- detectors --
        self.module_spin = QSpinBox(self)
        self.module_spin.setObjectName("detectorModule")
        self.module_spin.setRange(*DETECTOR_MODULES)
        self.module_spin.setValue(4)
        self.module_spin.setToolTip(f"Module slot {DETECTOR_MODULES[0]}–{DETECTOR_MODULES[1]}")
        self.channel_spin = QSpinBox(self)
        self.channel_spin.setObjectName("detectorChannel")
        self.channel_spin.setRange(*DETECTOR_CHANNELS)
        self.channel_spin.setToolTip(f"Channel {DETECTOR_CHANNELS[0]}–{DETECTOR_CHANNELS[1]}")
        detector_row = QWidget(self)
        dl = QHBoxLayout(detector_row)
        dl.setContentsMargins(0, 0, 0, 0)
        dl.addWidget(QLabel("Module", detector_row))
        dl.addWidget(self.module_spin)
        dl.addWidget(QLabel("Channel", detector_row))
        dl.addWidget(self.channel_spin)
        dl.addStretch(1)
        self.detector_form = ControlForm(
            controller, detector_group(4, 1), Detector.controls,
            reapply_key=self._detector_setting_key,
        )
        self.detector_page = _ChannelPage(self.detector_form, detector_row, self)
        self.detector_page.info.setText(
            "IL RL OPM2 module: channel 1 IN1, 2 IN2, 3 TLS IN, 4 OUT TO DUT."
        )
        self.module_spin.valueChanged.connect(self._detector_changed)
        self.channel_spin.valueChanged.connect(self._detector_changed)

        self.tabs = QTabWidget(self)
        self.tabs.addTab(sweep_page, "Sweep")
        self.tabs.addTab(self.tls_page, "Tunable lasers")
        self.tabs.addTab(self.rlaser_page, "Reference lasers")
        self.tabs.addTab(self.detector_page, "Detectors")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)

        for name, form in self.forms.items():
            form.refreshed.connect(lambda name=name: self._form_refreshed(name))
        controller.state_changed.connect(self.set_status)
        self.set_status(controller.status)

    @property
    def controller(self) -> LinkPort:
        """Return the link controller the panel sends through."""
        return self._controller

    @property
    def forms(self) -> dict[str, ControlForm]:
        """Return the forms by name: "sweep", "tls", "rlaser", "detector"."""
        return {
            "sweep": self.sweep_form,
            "tls": self.tls_form,
            "rlaser": self.rlaser_form,
            "detector": self.detector_form,
        }

    # -- link state ------------------------------------------------------------------------------
    def set_status(self, status: LinkStatus | None) -> None:
        """Follow a LinkStatus: editable when Connected/Live, re-read after (re)connecting."""
        previous = self._status
        self._status = status
        reason = read_only_reason(status)
        online = not reason
        for form in self.forms.values():
            form.set_online(online, reason)
        self.reload_button.setEnabled(online)
        if online:
            self.banner.setText("")
            self.banner.hide()
        else:
            self.banner.setText(f"Read-only: {reason}.")
            self.banner.setProperty("role", "error" if status is not None and status.state in (
                LinkState.RECONNECTING, LinkState.OFFLINE, LinkState.STALE) else "hint")
            repolish(self.banner)
            self.banner.show()
        was_online = previous is not None and previous.state in (*_EDITABLE, LinkState.BUSY)
        if online and not was_online:
            self.refresh()

    def refresh(self) -> None:
        """Re-read every form (and the TLS speed steps, the laser identity) from the instrument."""
        self._pending_refresh = set(self.forms)
        for name, form in self.forms.items():
            if name == "rlaser":
                self._refresh_rlaser()  # its identity first: an empty position has no settings
            else:
                form.refresh()

    def _form_refreshed(self, name: str) -> None:
        self._pending_refresh.discard(name)
        if not self._pending_refresh:
            self.refreshed.emit()

    # -- TLS: speed steps depend on the laser at the TLS position --------------------------------
    @property
    def tls(self) -> int:
        """Return the selected TLS number (1–4)."""
        return int(self.tls_select.currentData())

    def _tls_changed(self) -> None:
        n = self.tls
        self.tls_form.set_group(tls_group(n))

    def _tls_value_read(self, name: str, value: object) -> None:
        if name == "identifier":
            self._read_speed_steps()

    def _read_speed_steps(self) -> None:
        """Ask which laser serves the TLS and offer its speed steps (or say why none)."""
        n = self.tls
        field = self.tls_form.fields["speed_nm_s"]

        def done(result: TunableLaserInfo) -> None:
            if n != self.tls:
                return
            position, model = result
            _fit_to_laser(self.tls_form, TunableLaser.controls, model if position else None)
            if position == 0:
                field.set_unavailable(
                    f"No speed can be set: TLS {n} has no laser (position 0). "
                    "Set its laser position first.",
                )
                self.tls_page.info.setText(f"TLS {n}: no laser assigned.")
                return
            name = model or "unknown model"
            self.tls_page.info.setText(
                f"TLS {n}: laser {position} ({name}); speeds {field.control.range_text}."
            )

        def failed(exc: Exception) -> None:
            field.set_unavailable(f"Cannot tell which speeds TLS {n} allows: {exc}")

        self._controller.request(partial(procedures.read_tunable_laser, n=n), done, failed)

    # -- reference lasers -------------------------------------------------------------------------
    @property
    def reference_laser(self) -> int:
        """Return the selected reference laser number (1–10)."""
        return int(self.rlaser_select.currentData())

    def _rlaser_changed(self) -> None:
        r = self.reference_laser
        self.rlaser_page.info.setText("")
        self.rlaser_form.set_group(reference_laser_group(r), refresh=False)
        self._refresh_rlaser()

    def _refresh_rlaser(self) -> None:
        """Read the laser's identity; read its settings if installed, else say it is not."""
        r = self.reference_laser
        form = self.rlaser_form
        if not form.online:
            return

        def done(text: str) -> None:
            if r != self.reference_laser:
                return
            _fit_to_laser(form, RLASER_FIELDS, laser_model(text))
            if not laser_installed(text):
                reason = f"laser {r} is not installed (the instrument reports {text!r})"
                self.rlaser_page.info.setText(f"Laser {r}: not installed ({text!r}).")
            else:
                reason = ""
                self.rlaser_page.info.setText(f"Laser {r}: {text}")
            form.set_absent(reason)
            form.refresh()

        def failed(exc: Exception) -> None:
            if r == self.reference_laser:
                self.rlaser_page.info.setText(f"Laser {r}: identity unreadable ({exc})")
                form.set_absent("")
                form.refresh()

        self._controller.request(partial(procedures.read_laser_identity, r=r), done, failed)

    # -- detectors --------------------------------------------------------------------------------
    def _detector_setting_key(self, name: str) -> tuple[str, int, int] | None:
        """Return the controller's re-apply key of a detector setting (unit and wavelength).

        They decide how live power is read, so after a reconnect to the same instrument the
        controller sends them again (the same keys as its set_detector_* helpers).
        """
        if name == "frequency_thz":  # the same setting, set by frequency: the last set wins
            name = "wavelength_nm"
        if name not in ("wavelength_nm", "power_unit"):
            return None
        return (f"detector_{name}", self.module_spin.value(), self.channel_spin.value())

    def _detector_changed(self) -> None:
        m, ch = self.module_spin.value(), self.channel_spin.value()
        self.detector_form.set_group(detector_group(m, ch))


def _fit_to_laser(form: ControlForm, controls: Sequence[Control], model: str | None) -> None:
    """Give form's fields the ranges, power and speeds of the laser model (None: the CTP10's)."""
    for name, control in laser_model_controls(controls, model).items():
        field = form.fields.get(name)
        if field is not None and field.control != control:
            field.set_control(control)


def _row(label: str, widget: QWidget) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(QLabel(label, row))
    layout.addWidget(widget)
    layout.addStretch(1)
    return row
