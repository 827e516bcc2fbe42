"""Connect dialog: an address validated as you type, recent addresses, or the built-in simulator."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from ctp10_gui.hardware.transport import parse_address
from ctp10_gui.views.theme import repolish


def check_address(text: str) -> tuple[str | None, str]:
    """Return (canonical VISA address or None, sentence for the user) for typed text."""
    if not text.strip():
        return None, "Type an IP address or host name, e.g. 192.168.1.37 or 192.168.1.37:5025."
    try:
        address = parse_address(text)
    except ValueError as exc:
        return None, str(exc)
    return address, f"Will connect to {address}"


class ConnectDialog(QDialog):
    """Ask where to connect; result: address (canonical) or use_simulator."""

    def __init__(self, recent: Sequence[str], current: str | None, *, use_simulator: bool,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Connect to a CTP10")
        self.setMinimumWidth(520)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Instrument address (VISA resource or host[:port]):", self))
        self.address_box = QComboBox(self)
        self.address_box.setEditable(True)
        self.address_line = QLineEdit(self.address_box)
        self.address_box.setLineEdit(self.address_line)
        self.address_box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.address_box.addItems(list(recent))
        self.address_box.setToolTip("Recent addresses are in the list; type a new one freely")
        self.address_box.setCurrentText(current or (recent[0] if recent else ""))
        line = self.address_line
        line.setPlaceholderText(
            "192.168.1.37  or  192.168.1.37:5025  or  TCPIP::host::5025::SOCKET")
        line.setClearButtonEnabled(True)
        layout.addWidget(self.address_box)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.message)
        self.simulator_box = QCheckBox("Use the built-in simulator (no instrument needed)", self)
        self.simulator_box.setChecked(use_simulator)
        layout.addWidget(self.simulator_box)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.connect_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.connect_button.setText("Connect")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.address: str | None = None
        self.address_box.editTextChanged.connect(self._validate)
        self.simulator_box.toggled.connect(self._validate)
        self._validate()

    @property
    def use_simulator(self) -> bool:
        """Return True when the user chose the built-in simulator."""
        return self.simulator_box.isChecked()

    def _validate(self, *_: object) -> None:
        sim = self.simulator_box.isChecked()
        self.address_box.setEnabled(not sim)
        line = self.address_line
        if sim:
            self.address = None
            self.message.setText("Connects to a simulated CTP10 running inside this app.")
            self.message.setProperty("role", "hint")
            line.setProperty("valid", "true")
            ok = True
        else:
            self.address, sentence = check_address(self.address_box.currentText())
            ok = self.address is not None
            self.message.setText(sentence)
            self.message.setProperty("role", "ok" if ok else "error")
            line.setProperty("valid", "true" if ok else "false")
        repolish(self.message)
        repolish(line)
        self.connect_button.setEnabled(ok)
