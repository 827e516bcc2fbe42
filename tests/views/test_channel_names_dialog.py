"""Channel names in the window: dialog, cards, chart toggles, focus view, kept across restarts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ctp10_gui.views.channel_names_dialog import ChannelNamesDialog
from tests.views.conftest import Rig


def test_a_renamed_channel_is_named_so_everywhere_and_after_a_restart(
        qtbot: Any, make_rig: Callable[..., Rig], tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    rig = make_rig(settings_path=path)
    window = rig.window
    card = window.readouts.grid.cards[3]
    assert card.name_label.text() == "CH3 · TLS IN"  # the port name by default
    dialog = ChannelNamesDialog(window.hub, window)
    assert dialog.fields[3].placeholderText() == "TLS IN"
    dialog.fields[3].setText("input GC")
    dialog.apply()
    assert dialog.result() == dialog.DialogCode.Accepted
    assert card.name_label.text() == "CH3 · input GC"
    toggles = window.chart._toggles
    assert toggles[3].toolTip() == "Show or hide CH3 · input GC"
    focus = window.alignment.focus
    focus.set_focus(["CH3"])
    window.alignment.set_on(True)
    qtbot.waitUntil(lambda: focus.tiles["CH3"].name_label.text() == "CH3 · input GC",
                    timeout=2000)
    assert focus.pickers[0].currentText() == "CH3 · input GC"
    rig.close()
    again = make_rig(settings_path=path).window
    assert again.readouts.grid.cards[3].name_label.text() == "CH3 · input GC"


def test_a_too_long_name_is_refused_with_a_sentence(make_rig: Callable[..., Rig]) -> None:
    window = make_rig().window
    dialog = ChannelNamesDialog(window.hub, window)
    dialog.fields[1].setMaxLength(100)  # a pasted text can be longer than the field allows
    dialog.fields[1].setText("x" * 30)
    dialog.apply()
    assert dialog.error_label.text() == f"Not renamed: {'x' * 30!r} is longer than 24 characters."
    assert window.readouts.grid.cards[1].name_label.text() == "CH1 · IN1"
