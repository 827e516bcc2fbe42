"""Tone span text and the NullOutput: the device stand-in pulls buffers at the device's pace."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from ctp10_gui.audio.null_output import NullOutput
from ctp10_gui.audio.tone import ToneSynth, parse_span


@pytest.mark.parametrize(("text", "span"), [
    ("auto", None), ("", None), ("-20 to -3", (-20.0, -3.0)), ("−20, −3.5", (-20.0, -3.5)),
])
def test_parse_span(text: str, span: tuple[float, float] | None) -> None:
    assert parse_span(text) == span


@pytest.mark.parametrize(("text", "why"), [
    ("-3 to -20", "high end must be above"), ("loud", "is not a tone span"),
    ("-20 to -3 to 0", "is not a tone span"),
])
def test_bad_spans_say_why(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_span(text)


def test_the_null_output_renders_the_synth_at_the_device_pace(qtbot: Any) -> None:
    synth = ToneSynth()
    synth.set_target(440.0, 0.5)
    got: list[np.ndarray] = []
    times: list[float] = []

    def keep(buf: np.ndarray, t: float) -> None:
        got.append(buf)
        times.append(t)

    out = NullOutput(synth, on_buffer=keep)
    assert out.start() and out.running and out.unavailable == ""
    qtbot.waitUntil(lambda: len(got) >= 40, timeout=2000)  # 40 × 5.3 ms of sound
    out.stop()
    assert not out.running
    assert all(b.shape == (256,) and b.dtype == np.float32 for b in got)
    assert max(float(np.abs(b).max()) for b in got[2:]) == pytest.approx(0.5, abs=0.01)
    # Never faster than the device would play them (a late thread may be slower).
    assert times[-1] - times[0] >= (len(times) - 1 - out.buffered_blocks) * out.period_s
