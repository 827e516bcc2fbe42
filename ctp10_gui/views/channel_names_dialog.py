"""Name the channels ("input GC", "out fiber"); an empty field restores the port name."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from ctp10_gui.models.channel_names import MAX_NAME_CHARS, channel_key
from ctp10_gui.views.readouts import ReadoutHub


class ChannelNamesDialog(QDialog):
    """One field per shown channel; OK renames them through the hub (saved with the settings)."""

    def __init__(self, hub: ReadoutHub, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Channel names")
        self.hub = hub
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Names shown on the cards, the chart and the alignment view. "
                                "Empty: the instrument's port name.", self))
        form = QFormLayout()
        self.fields: dict[int, QLineEdit] = {}
        for channel in hub.model.channels:
            key = channel_key(channel)
            field = QLineEdit(hub.names.labels.get(key, ""), self)
            field.setMaxLength(MAX_NAME_CHARS)
            default = hub.names.name(key) if key not in hub.names.labels else ""
            field.setPlaceholderText(default or f"{key} (no port name)")
            form.addRow(key, field)
            self.fields[channel] = field
        layout.addLayout(form)
        self.error_label = QLabel("", self)
        self.error_label.setProperty("role", "error")
        self.error_label.setWordWrap(True)
        layout.addWidget(self.error_label)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.apply)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def apply(self) -> None:
        """Rename the channels and close, or say what is wrong and stay open."""
        try:
            self.hub.rename({ch: field.text() for ch, field in self.fields.items()})
        except ValueError as exc:
            self.error_label.setText(f"Not renamed: {exc}.")
            return
        self.accept()
