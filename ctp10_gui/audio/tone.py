"""Tone synthesis for alignment by ear: power (dBm) → pitch, phase-continuous, click-free.

Power in dBm is already logarithmic, so a linear map of dBm onto log-frequency gives equal
musical steps for equal dB steps: f = f_lo · (f_hi / f_lo)^x, x = (P − P_lo) / (P_hi − P_lo).
The synthesizer glides frequency and amplitude across each buffer and carries the phase from
one buffer to the next, so neither a pitch change nor a buffer boundary nor silence clicks.
Stale data or a lost link fades to silence (no "lost" cue: silence is unmistakable and never
confused with a power level).
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

DEFAULT_SAMPLE_RATE = 48_000
DEFAULT_F_LO_HZ = 200.0
DEFAULT_F_HI_HZ = 2000.0
MIN_SPAN_DB = 1.0  # an auto span narrower than this makes noise audible as pitch wobble


@dataclass(frozen=True)
class PitchMap:
    """Map a power span (dBm) log-linearly onto a pitch span (Hz); outside it, clamp."""

    lo_dbm: float
    hi_dbm: float
    f_lo_hz: float = DEFAULT_F_LO_HZ
    f_hi_hz: float = DEFAULT_F_HI_HZ

    def __post_init__(self) -> None:
        if not self.hi_dbm > self.lo_dbm:
            raise ValueError(f"tone span needs high > low, got {self.lo_dbm}–{self.hi_dbm} dBm")
        if not 20.0 <= self.f_lo_hz < self.f_hi_hz <= 20_000.0:
            raise ValueError(f"tone pitch span must lie within 20–20 000 Hz, low < high; got "
                             f"{self.f_lo_hz}–{self.f_hi_hz} Hz")

    def frequency_hz(self, dbm: float) -> float:
        """Return the pitch (Hz) for a power (dBm), clamped to the span."""
        x = (dbm - self.lo_dbm) / (self.hi_dbm - self.lo_dbm)
        x = min(max(x, 0.0), 1.0)
        return float(self.f_lo_hz * (self.f_hi_hz / self.f_lo_hz) ** x)


_NUMBER = r"[-+−]?\d+(?:\.\d*)?"


def parse_span(text: str) -> tuple[float, float] | None:
    """Return None for "auto" or "", (low, high) dBm for "-20 to -3"; ValueError otherwise."""
    if text.strip().lower() in ("", "auto"):
        return None
    numbers = re.findall(_NUMBER, text)
    rest = re.sub(_NUMBER, "", text).replace("to", "").replace(",", "").replace("…", "")
    if len(numbers) != 2 or rest.strip():
        raise ValueError(f"{text!r} is not a tone span: write 'auto' or e.g. '-20 to -3' (dBm)")
    lo, hi = (float(n.replace("−", "-")) for n in numbers)
    if not hi > lo:
        raise ValueError(f"tone span {text!r}: the high end must be above the low one")
    return lo, hi


class AutoSpan:
    """A power span that fits the values seen recently, widened to at least MIN_SPAN_DB."""

    def __init__(self, margin_db: float = 0.5) -> None:
        self.margin_db = margin_db
        self.lo = math.inf
        self.hi = -math.inf

    def reset(self) -> None:
        """Forget the values seen."""
        self.lo, self.hi = math.inf, -math.inf

    def add(self, dbm: float) -> None:
        """Widen the span to include a value (dBm); non-finite values are ignored."""
        if math.isfinite(dbm):
            self.lo = min(self.lo, dbm)
            self.hi = max(self.hi, dbm)

    def span(self) -> tuple[float, float] | None:
        """Return (low, high) dBm with margins and a minimum width, None before any value."""
        if not math.isfinite(self.lo):
            return None
        lo, hi = self.lo - self.margin_db, self.hi + self.margin_db
        if hi - lo < MIN_SPAN_DB:
            mid = 0.5 * (lo + hi)
            lo, hi = mid - MIN_SPAN_DB / 2, mid + MIN_SPAN_DB / 2
        return lo, hi


class ToneSynth:
    """Render float32 mono buffers of a sine whose pitch and level follow set targets."""

    def __init__(self, sample_rate: int = DEFAULT_SAMPLE_RATE) -> None:
        self.sample_rate = int(sample_rate)
        self._lock = threading.Lock()  # targets are set by the GUI thread, read by the audio one
        self._target_hz = DEFAULT_F_LO_HZ
        self._target_amp = 0.0
        self._hz = DEFAULT_F_LO_HZ
        self._amp = 0.0
        self._phase = 0.0  # radians, carried across buffers
        # Called (in the setting thread) after every set_target: a tone process mirrors it.
        self.listener: Callable[[], None] | None = None

    def set_target(self, frequency_hz: float | None, amplitude: float) -> None:
        """Glide to frequency_hz at amplitude 0–1 over the next buffer; None or 0 fades out."""
        with self._lock:
            if frequency_hz is not None and math.isfinite(frequency_hz) and frequency_hz > 0:
                self._target_hz = float(frequency_hz)
                self._target_amp = min(max(float(amplitude), 0.0), 1.0)
            else:
                self._target_amp = 0.0
        if self.listener is not None:
            self.listener()

    @property
    def target(self) -> tuple[float, float]:
        """Return the (frequency Hz, amplitude 0–1) the next buffer glides to."""
        with self._lock:
            return self._target_hz, self._target_amp

    @property
    def phase(self) -> float:
        """Return the phase (rad, 0–2π) at which the next buffer starts."""
        return self._phase

    def render(self, n: int) -> np.ndarray:
        """Return the next n samples (float32, −1..1), continuing the phase of the last call."""
        with self._lock:
            target_hz, target_amp = self._target_hz, self._target_amp
        # Linear glides across the buffer: no step in frequency or level at any sample.
        ramp = np.arange(1, n + 1, dtype=np.float64) / n
        hz = self._hz + (target_hz - self._hz) * ramp
        amp = self._amp + (target_amp - self._amp) * ramp
        phase_steps = 2.0 * math.pi * hz / self.sample_rate
        phases = self._phase + np.cumsum(phase_steps) - phase_steps[0]
        out: np.ndarray = (amp * np.sin(phases)).astype(np.float32)
        self._phase = float((phases[-1] + phase_steps[-1]) % (2.0 * math.pi))
        self._hz, self._amp = target_hz, target_amp
        return out
