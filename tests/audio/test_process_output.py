"""The tone's child process: it follows the GUI's target through shared memory and stops clean."""

from __future__ import annotations

from typing import Any

from ctp10_gui.audio.process_output import ProcessOutput
from ctp10_gui.audio.tone import ToneSynth


def _pitches_since(output: ProcessOutput, t0: float) -> list[float]:
    return [hz for t, hz in output.logged_blocks() if t >= t0]


def test_the_child_renders_at_the_pitch_the_gui_sets_and_stops_clean(qtbot: Any) -> None:
    synth = ToneSynth()
    output = ProcessOutput(synth, sink="null", log_blocks=2000)
    synth.set_target(300.0, 0.5)
    assert output.start() and output.wait_started(), output.unavailable
    process = output._process
    try:
        qtbot.waitUntil(lambda: 300.0 in _pitches_since(output, 0.0), timeout=5000)
        synth.set_target(1200.0, 0.5)  # the GUI thread moves the pitch: the child follows
        qtbot.waitUntil(lambda: _pitches_since(output, 0.0)[-1:] == [1200.0], timeout=2000)
        qtbot.waitUntil(lambda: output.priority != "", timeout=2000)
        assert output.priority.startswith("audio thread")
        assert output.buffers > 0
    finally:
        output.stop()
    assert not output.running and process is not None and not process.is_alive()
    blocks = output.buffers
    synth.set_target(600.0, 0.5)  # stopped: nothing renders, nothing is mirrored
    assert output.buffers == blocks and output._targets[0] == 1200.0


def test_without_a_sound_device_the_child_says_why(qtbot: Any) -> None:
    output = ProcessOutput(ToneSynth(), device="no such sound device")
    assert output.start()  # at once: the child looks for the device in the background
    assert not output.wait_started()
    assert output.unavailable.startswith("No sound")
    assert not output.running and not output.playing


def test_the_child_ends_when_the_gui_process_lets_go_of_it(qtbot: Any) -> None:
    output = ProcessOutput(ToneSynth(), sink="null")
    assert output.start() and output.wait_started()
    process, conn = output._process, output._conn
    assert process is not None and conn is not None
    conn.close()  # as when the GUI process dies: the pipe's end closes
    qtbot.waitUntil(lambda: not process.is_alive(), timeout=5000)
