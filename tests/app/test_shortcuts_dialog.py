"""Help → Keyboard shortcuts lists every shortcut the full window has, read from its actions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication

from ctp10_gui.app import build
from ctp10_gui.views.shortcuts_dialog import ShortcutsDialog


def _native(text: str) -> str:
    return QKeySequence(text).toString(QKeySequence.SequenceFormat.NativeText)


def test_the_dialog_lists_every_shortcut_of_the_window(qtbot: Any, user_dirs: Path) -> None:
    ctx = build(["--settings", str(user_dirs / "s.json")])
    try:
        window = ctx.window
        window.show()
        help_menu = next(a.menu() for a in window.menuBar().actions() if "Help" in a.text())
        entry = next(a for a in help_menu.actions() if "Keyboard shortcuts" in a.text())
        entry.trigger()
        dialog = window.findChild(ShortcutsDialog)
        assert dialog is not None and dialog.isVisible()
        cells = dialog.table_text()
        keys = {row[0] for row in cells}
        # The ones the issue found in no menu, and the sweep / recording / big-numbers keys.
        for key in ("Ctrl+K", "Ctrl+D", "Ctrl+R", "F11", "Ctrl+F", "Ctrl+M",
                    "Ctrl+0", "F5", "Shift+F5", "Ctrl+Shift+R", "F1"):
            assert _native(key) in keys, key
        assert (_native("Esc") + ", " + _native("F11"), "Leave big numbers",
                "big-numbers window") in cells
        assert (_native("Ctrl+K"), "Connect", "File menu") in cells
        assert (_native("Ctrl+M"), "Switch dBm / mW", "main window") in cells
        # Every action with keys is a row, once.
        with_keys = {(", ".join(_native(s.toString()) for s in a.shortcuts()),
                      a.text().replace("&", "").rstrip("…"))
                     for a in window.findChildren(QAction) if a.shortcuts()}
        assert {(k, c) for k, c, _ in cells} >= with_keys
        assert len(cells) == len(with_keys) + 1  # + leaving big numbers
        dialog.close()

        # Read when opened: an action added later is listed the next time.
        extra = QAction("Export everything", window)
        extra.setShortcut(QKeySequence("Ctrl+J"))
        (file_menu,) = [a.menu() for a in window.menuBar().actions() if a.text() == "&File"]
        file_menu.addAction(extra)
        entry.trigger()
        QApplication.processEvents()
        dialogs = [d for d in window.findChildren(ShortcutsDialog) if d.isVisible()]
        assert (_native("Ctrl+J"), "Export everything", "File menu") in dialogs[-1].table_text()
    finally:
        for dialog in ctx.window.findChildren(ShortcutsDialog):
            dialog.close()
        ctx.shutdown()
