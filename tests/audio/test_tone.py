"""Tone synthesis: pitch at the expected frequency, no jump between buffers, silence on stale."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ctp10_gui.audio.output import ToneOutput
from ctp10_gui.audio.tone import AutoSpan, PitchMap, ToneSynth

SR = 48_000


def _peak_hz(samples: np.ndarray) -> float:
    window = np.hanning(samples.size)
    spectrum = np.abs(np.fft.rfft(samples * window))
    k = int(np.argmax(spectrum))
    # Parabolic interpolation of the peak bin: sub-bin accuracy for a windowed sine.
    a, b, c = spectrum[k - 1], spectrum[k], spectrum[k + 1]
    offset = 0.5 * (a - c) / (a - 2 * b + c)
    return (k + offset) * SR / samples.size


@pytest.mark.parametrize(("dbm", "expected_hz"), [
    (-40.0, 200.0), (-20.0, 2000.0), (-30.0, math.sqrt(200.0 * 2000.0)), (-50.0, 200.0),
    (-5.0, 2000.0),
])
def test_pitch_follows_power_log_mapped_and_clamped(dbm: float, expected_hz: float) -> None:
    pitch = PitchMap(-40.0, -20.0)
    synth = ToneSynth(SR)
    synth.set_target(pitch.frequency_hz(dbm), 0.5)
    synth.render(1024)  # the glide to the target
    steady = np.concatenate([synth.render(1024) for _ in range(8)])
    assert _peak_hz(steady) == pytest.approx(expected_hz, rel=0.005)


def test_equal_db_steps_are_equal_musical_steps() -> None:
    pitch = PitchMap(-40.0, -20.0)
    f = [pitch.frequency_hz(p) for p in (-35.0, -30.0, -25.0)]
    assert f[1] / f[0] == pytest.approx(f[2] / f[1])


def test_buffers_join_without_a_phase_jump() -> None:
    split, whole = ToneSynth(SR), ToneSynth(SR)
    for synth in (split, whole):
        synth.set_target(440.0, 0.8)
        synth.render(480)
    pieces = np.concatenate([split.render(n) for n in (256, 100, 333, 7, 1024)])
    joined = whole.render(pieces.size)
    assert np.max(np.abs(pieces - joined)) < 1e-5


def test_a_pitch_change_glides_with_no_step_larger_than_a_sine_slope() -> None:
    synth = ToneSynth(SR)
    synth.set_target(300.0, 1.0)
    first = synth.render(512)
    synth.set_target(1800.0, 1.0)
    second = synth.render(512)
    signal = np.concatenate([first, second])
    # A click is a step: the largest sample-to-sample change of a 1800 Hz unit sine is
    # 2π·1800/48000 ≈ 0.236; anything above it would be a discontinuity.
    assert np.max(np.abs(np.diff(signal))) <= 2 * math.pi * 1800 / SR + 1e-3


def test_stale_fades_to_silence_without_a_click_and_stays_silent() -> None:
    synth = ToneSynth(SR)
    synth.set_target(1000.0, 1.0)
    synth.render(1024)
    synth.set_target(None, 0.0)  # the value went stale or the link dropped
    fade = synth.render(256)
    assert abs(fade[-1]) < 1e-3
    assert np.max(np.abs(np.diff(fade))) <= 2 * math.pi * 1000 / SR + 1e-3
    assert np.max(np.abs(synth.render(4096))) == 0.0


def test_auto_span_fits_the_values_seen_with_a_minimum_width() -> None:
    span = AutoSpan(margin_db=0.5)
    assert span.span() is None
    span.add(-12.0)
    lo, hi = span.span() or (0, 0)
    assert hi - lo == pytest.approx(1.0) and (lo + hi) / 2 == pytest.approx(-12.0)
    for v in (-30.0, -5.0, math.nan):
        span.add(v)
    assert span.span() == (-30.5, -4.5)


def test_bad_spans_are_refused_with_a_sentence() -> None:
    with pytest.raises(ValueError, match="high > low"):
        PitchMap(-10.0, -20.0)
    with pytest.raises(ValueError, match="20–20 000 Hz"):
        PitchMap(-40.0, -20.0, f_lo_hz=5.0)


def test_without_a_sound_library_the_output_says_why_and_nothing_breaks(monkeypatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_sounddevice(name: str, *args, **kwargs):
        if name == "sounddevice":
            raise ImportError("No module named 'sounddevice'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_sounddevice)
    output = ToneOutput(ToneSynth(SR))
    assert output.start() is False
    assert "sounddevice" in output.unavailable and "libportaudio2" in output.unavailable
    assert not output.running
    output.stop()  # safe when it never started
