"""Only what is installed can be picked; a pick that is not installed is refused with a sentence
in the main view, and a unit changed on the instrument is said there once."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fake_link import FakeLink

from ctp10_gui.hardware.ctp10 import CTP10
from ctp10_gui.hardware.inventory import Inventory
from ctp10_gui.hardware.transport import VisaTransport
from ctp10_gui.models.connection import LinkState
from ctp10_gui.models.settings import AppSettings
from ctp10_gui.views.live_controls import LiveControls
from ctp10_gui.views.main_view_notices import UnitChangeNotices

SLOTS = {4: "IL RL OPM2", 6: "IL RL OPM2"}
INVENTORY = Inventory({4: 4, 6: 4}, SLOTS, {1: "T100S-HP"})


def _controls(qtbot: Any, link: FakeLink, **options: Any) -> tuple[LiveControls, list[str]]:
    params: dict[str, Any] = {"module": 4, "channels": (1, 2, 3, 4), "interval_s": 0.05,
                              "live": True, "unit": "dBm", **options}
    controls = LiveControls(link, **params)
    qtbot.addWidget(controls)
    said: list[str] = []
    controls.pick_refused.connect(said.append)
    return controls, said


def test_only_installed_modules_and_channels_are_offered_each_saying_why_not(qtbot: Any) -> None:
    link = FakeLink()
    controls, said = _controls(qtbot, link)
    combo = controls.module_combo
    assert all(combo.model().item(i).isEnabled() for i in range(combo.count()))  # not known yet
    link.set_inventory(INVENTORY)
    model = combo.model()
    enabled = [int(combo.itemData(i)) for i in range(combo.count()) if model.item(i).isEnabled()]
    assert enabled == [4, 6]
    assert combo.itemText(combo.findData(4)) == "4 · IL RL OPM2, 4 channels"
    assert combo.itemText(combo.findData(3)) == "3 · empty"
    assert model.item(combo.findData(3)).toolTip() == (
        "Module 3 is empty; detector modules are in slots 4 and 6.")
    boxes = controls.channel_boxes
    assert [ch for ch, box in boxes.items() if box.isEnabled()] == [1, 2, 3, 4]
    assert boxes[5].toolTip() == "Module 4 has channels 1–4: channel 5 is not installed."
    assert said == [] and controls.refusal == "" and controls.live_box.isChecked()
    assert ("set_live", (False,)) not in link.calls  # a valid saved pick is kept as it is

    link.set_inventory(None)  # another address: nothing known, everything offered again
    assert all(box.isEnabled() for box in boxes.values())


def test_a_saved_pick_that_is_not_installed_is_refused_once_and_live_waits_for_a_valid_one(
        qtbot: Any) -> None:
    link = FakeLink()
    controls, said = _controls(qtbot, link, channels=(1, 2, 3, 4, 5, 6))
    link.set_inventory(INVENTORY)
    sentence = "Module 4 has channels 1–4: channels 5 and 6 are not installed."
    assert said == [sentence] and controls.message.text() == sentence
    assert controls.channels == (1, 2, 3, 4, 5, 6)  # nothing picked in the user's place
    assert ("set_live", (False,)) in link.calls and not controls.live_box.isChecked()
    assert controls.wants_live  # the wish is kept (and saved) while live waits
    # Ticked but missing channels can still be unticked, and only that.
    assert controls.channel_boxes[5].isEnabled() and controls.channel_boxes[6].isEnabled()

    controls.live_box.setChecked(True)  # the user insists: refused again, said again
    assert not controls.live_box.isChecked() and said == [sentence, sentence]
    assert link.calls.count(("set_live", (True,))) == 0

    controls.channel_boxes[6].setChecked(False)
    assert said[-1] == "Module 4 has channels 1–4: channel 5 is not installed."
    assert not controls.channel_boxes[6].isEnabled()
    controls.channel_boxes[5].setChecked(False)
    assert controls.refusal == "" and controls.message.text() == ""
    assert link.calls[-1] == ("set_live", (True,)) and controls.live_box.isChecked()
    assert len(said) == 3


def test_an_empty_saved_slot_names_the_slots_that_hold_detectors(qtbot: Any) -> None:
    link = FakeLink()
    controls, said = _controls(qtbot, link, module=3)
    link.set_inventory(INVENTORY)
    assert said == ["Module 3 is empty; detector modules are in slots 4 and 6."]
    assert not controls.live_box.isChecked()
    controls.read_back()
    assert link.requests == []  # an empty slot is never asked: it would not answer
    controls.select_module(6)
    assert controls.refusal == "" and ("set_module", (6,)) in link.calls
    assert controls.live_box.isChecked()


def test_unit_changes_in_one_burst_are_one_sentence_with_the_time_they_began(qtbot: Any) -> None:
    said: list[str] = []
    notices = UnitChangeNotices(said.append, wall_clock=lambda: 0.0)
    for channel in (1, 2, 3):
        notices.link_event("unit_changed", f"module 4 channel {channel} replies in mW instead "
                                           "of dBm (changed on the instrument); values are "
                                           "converted to dBm from this sample on")
    notices.link_event("resync", "garbled reply: asked again")
    qtbot.waitUntil(lambda: len(said) == 1, timeout=1000)
    at = time.strftime("%H:%M:%S", time.localtime(0.0))
    assert said == [f"CH1, CH2, CH3 unit changed on the instrument to mW — values converted "
                    f"from {at}"]
    notices.link_event("unit_changed", "the unit of every detector changed")  # names no channel
    qtbot.waitUntil(lambda: len(said) == 2, timeout=1000)
    assert said[1] == "The unit of every detector changed"


# -- the main window on the simulator -------------------------------------------------------------


def test_the_main_view_refuses_an_empty_saved_slot_and_goes_live_on_a_valid_pick(
        qtbot: Any, make_rig: Callable[..., Any]) -> None:
    rig = make_rig(sim_options={"modules": (4, 6)}, settings=AppSettings(module=3))
    window = rig.window
    errors: list[str] = []
    rig.controller.instrument_error.connect(errors.append)
    window.connect_initial()
    sentence = "Module 3 is empty; detector modules are in slots 4 and 6."
    qtbot.waitUntil(lambda: sentence in window.notice_label.text(), timeout=5000)
    qtbot.waitUntil(lambda: rig.state is LinkState.CONNECTED, timeout=3000)
    assert window.notice_label.isVisible()
    window.live_controls.select_module(6)
    qtbot.waitUntil(lambda: rig.state is LinkState.LIVE, timeout=3000)
    qtbot.waitUntil(lambda: "module 6" in window.live_controls.acquiring_label.text(),
                    timeout=3000)
    assert errors == []  # nothing was asked of the empty slot
    assert window.collect_settings().module == 6 and window.settings.live


def test_the_main_view_says_a_unit_changed_by_another_client_once(
        qtbot: Any, make_rig: Callable[..., Any]) -> None:
    rig = make_rig(sim_options={"max_clients": 2})
    window = rig.window
    events: list[str] = []
    rig.controller.link_event.connect(lambda kind, text: events.append(kind))
    window.connect_initial()
    qtbot.waitUntil(lambda: rig.state is LinkState.LIVE, timeout=5000)
    other = CTP10(VisaTransport(rig.sim.address))
    other.connect()
    try:
        other.write(":CTP:SENS4:CHAN1:UNIT:Y MW")
        qtbot.waitUntil(lambda: "CH1 unit changed on the instrument to mW — values converted "
                        "from " in window.notice_label.text(), timeout=3000)
        batches: list[object] = []
        rig.controller.batch_received.connect(batches.append)
        qtbot.waitUntil(lambda: len(batches) >= 10, timeout=3000)  # later samples say nothing
        assert events.count("unit_changed") == 1
    finally:
        other.close()
