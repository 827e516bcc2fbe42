"""Settled light and averaged peak on injected sample streams (times in s, values in dBm)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ctp10_gui.models.alignment import AveragedPeak, DeltaSpan, SettledDetector


def _stream(t0: float, seconds: float, rate_hz: float, level: float, noise_db: float,
            seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = int(seconds * rate_hz)
    t = t0 + np.arange(n) / rate_hz
    rng = np.random.default_rng(seed)
    v = level + rng.uniform(-noise_db / 2, noise_db / 2, n)
    return t, v, np.ones(n, dtype=bool)


def test_settled_after_the_window_of_quiet_samples_with_its_level() -> None:
    d = SettledDetector(window_s=2.0, threshold_db=0.02)
    d.add(*_stream(0.0, 1.9, 100, -3.12, 0.01))
    assert not d.state().settled  # not yet 2 s of quiet data
    d.add(*_stream(1.9, 0.2, 100, -3.12, 0.01, seed=2))
    state = d.state(now=2.1)
    assert state.settled
    assert state.level_dbm == pytest.approx(-3.12, abs=0.005)
    assert state.spread_db < 0.02


def test_not_settled_while_the_power_still_moves() -> None:
    d = SettledDetector(window_s=2.0, threshold_db=0.02)
    t = np.arange(300) / 100
    d.add(t, -10 + 0.05 * t, np.ones(300, dtype=bool))  # a slow drift of 0.05 dB/s
    state = d.state(now=3.0)
    assert not state.settled and state.spread_db == pytest.approx(0.1, abs=0.002)


def test_an_invalid_sample_or_a_stalled_stream_is_never_settled() -> None:
    d = SettledDetector(window_s=1.0, threshold_db=0.02)
    d.add(*_stream(0.0, 2.0, 100, -5.0, 0.001))
    assert d.state(now=2.0).settled
    assert not d.state(now=10.0).settled  # the data stopped: stale is not settled
    d.add(np.array([2.01]), np.array([math.nan]), np.array([False]))  # under range
    assert not d.state(now=2.01).settled
    d.add(*_stream(2.02, 0.5, 100, -5.0, 0.001))
    assert not d.state(now=2.52).settled  # the window restarts after the gap


def test_a_noise_spike_cannot_raise_the_averaged_peak() -> None:
    peak = AveragedPeak(average_s=0.05)
    t, v, ok = _stream(0.0, 1.0, 1000, -10.0, 0.0)
    v[500] = -4.0  # one 1 kHz sample 6 dB high: a noise spike
    peak.add(t, v, ok)
    state = peak.state()
    assert state.raw_max_dbm == pytest.approx(-4.0)  # kept for the tooltip
    # A 4× sample among 51 in a 50 ms average: (50 + 4) / 51 → +0.25 dB, not +6 dB.
    assert state.peak_dbm == pytest.approx(-10.0 + 10 * np.log10(54 / 51), abs=0.01)


def test_averaging_keeps_noise_from_inflating_the_peak_at_1_khz() -> None:
    peak = AveragedPeak(average_s=0.05)
    rng = np.random.default_rng(7)
    t = np.arange(10_000) / 1000.0
    v = -10.0 + rng.normal(0.0, 0.05, t.size)  # 0.05 dB rms detector noise at 1 kHz
    peak.add(t, v, np.ones(t.size, dtype=bool))
    state = peak.state()
    assert state.raw_max_dbm - (-10.0) > 0.15  # the raw hold rides the noise (~4 σ)
    assert state.peak_dbm - (-10.0) < 0.04  # the 50 ms average does not


def test_a_real_improvement_raises_the_averaged_peak() -> None:
    peak = AveragedPeak(average_s=0.05)
    peak.add(*_stream(0.0, 0.5, 1000, -10.0, 0.0))
    peak.add(*_stream(0.5, 0.5, 1000, -7.0, 0.0))
    assert peak.state().peak_dbm == pytest.approx(-7.0, abs=1e-9)
    peak.reset()
    assert math.isnan(peak.state().peak_dbm) and math.isnan(peak.state().raw_max_dbm)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        SettledDetector(window_s=0.0)
    with pytest.raises(ValueError):
        AveragedPeak(average_s=-1.0)


def test_polled_slower_than_the_window_each_sample_is_its_own_average() -> None:
    peak = AveragedPeak(average_s=0.05)
    t = np.array([0.0, 0.1, 0.2, 0.3])  # 10 Hz polling: never two samples in 50 ms
    peak.add(t, np.array([-9.0, -8.0, -6.0, -7.0]), np.ones(4, dtype=bool))
    state = peak.state()
    assert state.peak_dbm == pytest.approx(-6.0)  # the first lone sample does not count
    assert state.peak_t == pytest.approx(0.2)


def test_polled_at_the_window_s_own_period_the_second_sample_counts() -> None:
    peak = AveragedPeak(average_s=0.05)
    # 20 Hz polling a little faster than 50 ms: two samples never quite span the window.
    peak.add(np.array([0.0, 0.0499]), np.array([-5.0, -5.0]), np.ones(2, dtype=bool))
    assert peak.state().peak_dbm == pytest.approx(-5.0)


def test_the_peak_time_is_where_the_average_peaked() -> None:
    peak = AveragedPeak(average_s=0.05)
    t, v, ok = _stream(0.0, 1.0, 1000, -10.0, 0.0)
    v[600:700] = -8.0  # a 100 ms plateau
    peak.add(t, v, ok)
    assert peak.state().peak_dbm == pytest.approx(-8.0)
    assert 0.649 <= peak.state().peak_t <= 0.7  # the window first full of the plateau


def test_the_delta_span_grows_at_once_and_shrinks_only_after_the_hold() -> None:
    span = DeltaSpan(hold_s=2.0)
    assert span.update(-0.05, 0.0) == 0.1
    assert span.update(-3.0, 0.1) == 5.0  # at once
    assert span.update(-0.3, 0.2) == 5.0  # not yet
    assert span.update(-0.3, 1.0) == 5.0
    assert span.update(-0.3, 2.3) == 0.5  # after 2 s below
    assert span.update(-40.0, 2.4) == 10.0  # the widest span holds anything
    assert span.update(None, 9.0) == 10.0
