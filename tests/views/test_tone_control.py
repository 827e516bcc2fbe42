"""The alignment tone wired to the simulator: pitch follows power, silence when not live."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ctp10_gui.audio.null_output import NullOutput
from ctp10_gui.audio.process_output import ProcessOutput
from ctp10_gui.models.connection import LinkState
from tests.views.conftest import Rig


def _tone_on(qtbot: Any, rig: Rig) -> NullOutput:
    alignment = rig.window.alignment
    buffers: list[np.ndarray] = []
    output = NullOutput(alignment.synth, on_buffer=lambda out, _t: buffers.append(out))
    alignment.tone.output = output  # the sound card's stand-in: same thread cadence
    rig.window.connect_initial()
    qtbot.waitUntil(lambda: rig.state is LinkState.LIVE, timeout=5000)
    alignment.focus.set_focus(["CH3"])
    alignment.tone.toggle_action.trigger()  # what Ctrl+T does
    assert alignment.tone.on and output.running
    return output


def test_pitch_rises_with_power_and_the_tone_is_silent_when_stale_or_disconnected(
        qtbot: Any, make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(stale_after_s=0.4, reply_deadline_s=2.0)
    output = _tone_on(qtbot, rig)
    synth = rig.window.alignment.synth
    # Far below the simulator's starting level: whatever that is, −4 dBm then sits in the
    # top tenth of the auto-fitted span and −29 dBm in the bottom tenth.
    rig.sim.instrument.set_level_dbm(4, 3, -30.0)
    model = rig.window.hub.model
    qtbot.waitUntil(lambda: abs(model.reading(3).value_dbm + 30.0) < 0.01, timeout=3000)
    assert synth.target[1] > 0
    rig.sim.instrument.set_level_dbm(4, 3, -4.0)
    qtbot.waitUntil(lambda: synth.target[0] > 1500.0, timeout=3000)
    high = synth.target[0]
    rig.sim.instrument.set_level_dbm(4, 3, -29.0)
    qtbot.waitUntil(lambda: synth.target[0] < 400.0, timeout=3000)
    assert synth.target[0] < high
    assert synth.target[1] == rig.window.alignment.tone.volume

    rig.sim.faults.pause()  # no replies: stale after 0.4 s
    qtbot.waitUntil(lambda: synth.target[1] == 0.0, timeout=1500)
    rig.sim.faults.resume()
    qtbot.waitUntil(lambda: synth.target[1] > 0, timeout=5000)

    rig.window.disconnect_action.trigger()
    qtbot.waitUntil(lambda: synth.target[1] == 0.0, timeout=1000)
    n = output.buffers
    qtbot.waitUntil(lambda: output.buffers > n + 3, timeout=1000)
    assert rig.window.alignment.tone.on  # still switched on: silent, not off
    rig.window.alignment.tone.toggle_action.trigger()
    assert not output.running


def test_mute_and_volume_keys(qtbot: Any, make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
    _tone_on(qtbot, rig)
    tone, synth = rig.window.alignment.tone, rig.window.alignment.synth
    qtbot.waitUntil(lambda: synth.target[1] > 0, timeout=3000)
    tone.softer_action.trigger()
    assert tone.volume == 0.4
    qtbot.waitUntil(lambda: synth.target[1] == 0.4, timeout=2000)
    tone.mute_action.trigger()
    assert synth.target[1] == 0.0
    tone.mute_action.trigger()
    qtbot.waitUntil(lambda: synth.target[1] == 0.4, timeout=2000)


def test_without_a_sound_device_the_ui_says_why_and_the_app_runs_on(
        qtbot: Any, make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
    alignment = rig.window.alignment
    # The app's output: the tone's child process, which finds no such device.
    alignment.tone.output = ProcessOutput(alignment.synth, device="no such sound device")
    alignment.tone.toggle_action.trigger()  # the child starts in the background, finds none
    qtbot.waitUntil(lambda: not alignment.tone.on, timeout=10_000)
    assert alignment.tone.unavailable.startswith("No sound")
    assert alignment.tone_bar.why.text() == "no sound"
    assert alignment.tone_bar.why.toolTip() == alignment.tone.unavailable
    assert rig.window.statusBar().currentMessage() == alignment.tone.unavailable
    rig.window.connect_initial()
    qtbot.waitUntil(lambda: rig.state is LinkState.LIVE, timeout=5000)


def test_a_set_tone_span_is_used_and_kept_and_a_bad_one_is_said(
        qtbot: Any, make_rig: Callable[..., Rig], tmp_path: Any) -> None:
    path = tmp_path / "s.json"
    rig = make_rig(settings_path=path)
    _tone_on(qtbot, rig)
    alignment = rig.window.alignment
    edit = alignment.span_edit.edit
    edit.setText("-20 to 0")
    edit.editingFinished.emit()
    rig.sim.instrument.set_level_dbm(4, 3, -10.0)  # mid-span: √(200 · 2000) Hz
    qtbot.waitUntil(lambda: abs(alignment.synth.target[0] - 632.46) < 1.0, timeout=3000)
    edit.setText("0 to -20")
    edit.editingFinished.emit()
    assert "the high end must be above the low one" in rig.window.statusBar().currentMessage()
    assert alignment.tone.fixed_span == (-20.0, 0.0)  # the last good span stays
    rig.close()
    again = make_rig(settings_path=path).window
    assert again.alignment.span_edit.edit.text() == "-20 to 0"
