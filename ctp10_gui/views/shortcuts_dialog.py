"""Help → Keyboard shortcuts: every shortcut of the window, read from its actions when opened."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMainWindow,
    QMenu,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ctp10_gui.views.big_numbers import CLOSE_KEYS as BIG_NUMBERS_CLOSE_KEYS

TITLE = "Keyboard shortcuts"


@dataclass(frozen=True)
class ShortcutRow:
    """One line of the table: the keys, what they do, and where the command also sits."""

    keys: str
    command: str
    place: str


def _plain(text: str) -> str:
    """Return menu text without mnemonics and ellipsis ("&Connect…" -> "Connect")."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…").strip()


def _keys(sequences: list[QKeySequence]) -> str:
    native = QKeySequence.SequenceFormat.NativeText
    return ", ".join(s.toString(native) for s in sequences if not s.isEmpty())


def collect_shortcuts(window: QMainWindow) -> list[ShortcutRow]:
    """Return a row per action or shortcut of window that has keys: menus first, in menu order."""
    places: dict[QAction, str] = {}
    ordered: list[QAction] = []
    for top in window.menuBar().actions():
        menu = top.menu()
        if not isinstance(menu, QMenu):
            continue
        for action in menu.actions():
            if action not in places:
                places[action] = f"{_plain(top.text())} menu"
                ordered.append(action)
    ordered += [a for a in window.findChildren(QAction) if a not in places]
    rows: list[ShortcutRow] = []
    seen: set[tuple[str, str]] = set()
    for action in ordered:
        keys = _keys(action.shortcuts())
        if not keys or (keys, _plain(action.text())) in seen:
            continue
        seen.add((keys, _plain(action.text())))
        rows.append(ShortcutRow(keys, _plain(action.text()), places.get(action, "main window")))
    for shortcut in window.findChildren(QShortcut):
        keys = _keys([shortcut.key()])
        if keys:
            what = shortcut.whatsThis() or shortcut.objectName() or "(no description)"
            rows.append(ShortcutRow(keys, what, "main window"))
    native = QKeySequence.SequenceFormat.NativeText
    close_keys = ", ".join(QKeySequence(k).toString(native) for k in BIG_NUMBERS_CLOSE_KEYS)
    rows.append(ShortcutRow(close_keys, "Leave big numbers", "big-numbers window"))
    return rows


class ShortcutsDialog(QDialog):
    """A read-only table of the window's shortcuts."""

    def __init__(self, window: QMainWindow, parent: QWidget | None = None) -> None:
        super().__init__(parent or window)
        self.setWindowTitle(TITLE)
        self.rows = collect_shortcuts(window)
        layout = QVBoxLayout(self)
        self.table = QTableWidget(len(self.rows), 3, self)
        self.table.setHorizontalHeaderLabels(["Keys", "Command", "Also in"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        for r, row in enumerate(self.rows):
            for c, text in enumerate((row.keys, row.command, row.place)):
                self.table.setItem(r, c, QTableWidgetItem(text))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        layout.addWidget(self.table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(520, 30 + 28 * min(len(self.rows), 16) + 60)

    def _cell(self, row: int, column: int) -> str:
        item = self.table.item(row, column)
        return item.text() if item is not None else ""

    def table_text(self) -> list[tuple[str, str, str]]:
        """Return the table's cells row by row (keys, command, place)."""
        cells: list[tuple[str, str, str]] = []
        for r in range(self.table.rowCount()):
            keys, command, place = (self._cell(r, c) for c in range(3))
            cells.append((keys, command, place))
        return cells


def shortcuts_action(window: QMainWindow) -> QAction:
    """Return the Help-menu action (F1) that opens the shortcuts table, built when opened."""
    action = QAction(f"&{TITLE}", window)
    action.setShortcut(QKeySequence("F1"))
    action.setToolTip("Every keyboard shortcut of this window (F1)")

    def show() -> None:
        dialog = ShortcutsDialog(window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()

    action.triggered.connect(show)
    return action
