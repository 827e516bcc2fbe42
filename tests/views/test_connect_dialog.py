"""Connect dialog: validated as you type, recent addresses, the built-in simulator."""

from __future__ import annotations

from typing import Any

from ctp10_gui.views.connect_dialog import ConnectDialog, check_address


def test_check_address_gives_canonical_form_or_a_sentence() -> None:
    assert check_address("192.168.1.37") == (
        "TCPIP::192.168.1.37::5025::SOCKET", "Will connect to TCPIP::192.168.1.37::5025::SOCKET")
    address, sentence = check_address("192.168.1.300")
    assert address is None and "not a valid IPv4 address" in sentence
    assert check_address("  ")[0] is None


def test_dialog_validates_as_you_type(qtbot: Any) -> None:
    dialog = ConnectDialog(["10.0.0.5:5026", "lab-ctp10"], None, use_simulator=False)
    qtbot.addWidget(dialog)
    assert dialog.address_box.count() == 2
    assert dialog.address == "TCPIP::10.0.0.5::5026::SOCKET"  # the newest recent one
    line = dialog.address_box.lineEdit()
    line.clear()
    qtbot.keyClicks(line, "10.0.0.")
    assert not dialog.connect_button.isEnabled()
    assert line.property("valid") == "false"
    assert "not an instrument address" in dialog.message.text()
    qtbot.keyClicks(line, "7:70000")
    assert "port must be a number from 1 to 65535" in dialog.message.text()
    line.clear()
    qtbot.keyClicks(line, "10.0.0.7")
    assert dialog.connect_button.isEnabled()
    assert dialog.address == "TCPIP::10.0.0.7::5025::SOCKET"


def test_simulator_choice_needs_no_address(qtbot: Any) -> None:
    dialog = ConnectDialog([], None, use_simulator=False)
    qtbot.addWidget(dialog)
    assert not dialog.connect_button.isEnabled()  # nothing typed yet
    dialog.simulator_box.setChecked(True)
    assert dialog.connect_button.isEnabled() and dialog.use_simulator
    assert not dialog.address_box.isEnabled()
