"""Physics of the simulated lab: fiber-to-chip coupling, microring transmission, reference level."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_DB_PER_NEPER_SQ = 10.0 / math.log(10.0)  # 4.343: dB of loss per unit of r²/w²

_MIN_STEP_S = 1e-3  # s; shortest drift update (the channels of one query share it)


class FiberCoupling:
    """Gaussian fiber-to-waveguide coupling versus a 2-D offset (µm) that drifts slowly.

    The drift is an Ornstein–Uhlenbeck walk around the set point (seeded rng): it wanders by
    drift_rms_um with correlation time drift_tau_s and never runs away. Time comes from the
    caller (advance(now)), so a test clock makes it deterministic.
    """

    def __init__(
        self,
        rng: np.random.Generator,
        *,
        offset_um: tuple[float, float],
        mode_radius_um: float,
        drift: bool,
        drift_rms_um: float,
        drift_tau_s: float,
        now: float,
    ) -> None:
        self._rng = rng
        self.mode_radius_um = mode_radius_um
        self.drift = drift
        self.drift_rms_um = drift_rms_um
        self.drift_tau_s = drift_tau_s
        self.set_point_um = (float(offset_um[0]), float(offset_um[1]))
        self.offset_um = self.set_point_um
        self._t = now

    def set_offset(self, x_um: float, y_um: float, now: float) -> None:
        """Move the fiber to (x, y) µm; the drift continues around this new set point."""
        self.set_point_um = (float(x_um), float(y_um))
        self.offset_um = self.set_point_um
        self._t = now

    def advance(self, now: float) -> None:
        """Advance the drift to time now (s); exact OU update, any step size."""
        dt = now - self._t
        if dt < _MIN_STEP_S:
            # A drift with a time constant of seconds does not move within a millisecond; the
            # update below stays exact for any step, so the skipped time is simply carried on.
            return
        self._t = now
        if not self.drift or self.drift_rms_um == 0:
            return
        a = math.exp(-dt / self.drift_tau_s)
        spread = self.drift_rms_um * math.sqrt(1.0 - a * a)
        cx, cy = self.set_point_um
        x, y = self.offset_um
        dx, dy = self._rng.standard_normal(2)
        self.offset_um = (cx + (x - cx) * a + spread * dx, cy + (y - cy) * a + spread * dy)

    def loss_db(self, now: float) -> float:
        """Return the coupling change in dB (≤ 0) at time now: −4.34·r²/w²."""
        self.advance(now)
        x, y = self.offset_um
        return -_DB_PER_NEPER_SQ * (x * x + y * y) / (self.mode_radius_um**2)


@dataclass(frozen=True)
class RingChip:
    """A microring on the chip seen by one detector: resonance comb drawn once from a seed.

    fsr_nm: free spectral range; anchor_nm: a resonance position; depths_db, fwhm_nm, jitter_nm:
    per resonance index k (resonance k sits near anchor + k·FSR) over the 1200–1700 nm band.
    """

    fsr_nm: float
    anchor_nm: float
    depths_db: np.ndarray
    fwhm_nm: np.ndarray
    jitter_nm: np.ndarray
    ripple_phase: float

    @classmethod
    def draw(cls, seed: int, module: int, channel: int) -> RingChip:
        """Draw the chip of (module, channel) from seed: FSR 2.5–4.5 nm, dips 5–25 dB."""
        rng = np.random.default_rng([seed, module, channel, 7])
        fsr = float(rng.uniform(2.5, 4.5))
        anchor = 1200.0 + float(rng.uniform(0.0, fsr))
        count = math.ceil(500.0 / fsr) + 2
        return cls(
            fsr_nm=fsr,
            anchor_nm=anchor,
            depths_db=rng.uniform(5.0, 25.0, count),
            fwhm_nm=rng.uniform(0.04, 0.12, count),
            jitter_nm=rng.uniform(-0.05, 0.05, count),
            ripple_phase=float(rng.uniform(0, 2 * math.pi)),
        )

    def resonance_profile(self, wl_nm: np.ndarray) -> np.ndarray:
        """Return extinction × Lorentzian of the nearest resonance (0..1, float32) on a sorted grid.

        Works resonance by resonance on contiguous slices (about span/FSR of them), which is
        several times faster than gathering per-point resonance parameters.
        """
        out = np.zeros(wl_nm.size, dtype=np.float32)
        if wl_nm.size == 0:
            return out
        extinction = 1.0 - 10.0 ** (-self.depths_db / 10.0)
        last = len(self.depths_db) - 1
        k_first = math.floor((float(wl_nm[0]) - self.anchor_nm) / self.fsr_nm + 0.5)
        k_last = math.floor((float(wl_nm[-1]) - self.anchor_nm) / self.fsr_nm + 0.5)
        for k in range(k_first, k_last + 1):
            lo = self.anchor_nm + (k - 0.5) * self.fsr_nm
            i0, i1 = np.searchsorted(wl_nm, (lo, lo + self.fsr_nm))
            if i1 <= i0:
                continue
            index = min(max(k, 0), last)
            center = self.anchor_nm + k * self.fsr_nm + self.jitter_nm[index]
            detune = (wl_nm[i0:i1] - center).astype(np.float32)
            detune *= detune
            half_sq = np.float32((0.5 * self.fwhm_nm[index]) ** 2)
            detune += half_sq
            np.divide(np.float32(extinction[index] * half_sq), detune, out=out[i0:i1])
        return out


def band_center_nm(wl_nm: float) -> float:
    """Return the grating-coupler center for a wavelength: O band 1310 nm, else C band 1550 nm."""
    return 1310.0 if wl_nm < 1450.0 else 1550.0


def transfer_function_db(
    chip: RingChip, port: str, wl_nm: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Return the TF (dB, normalised to the reference) of a port: 'through', 'drop' or 'flat'.

    through: ~−5 dB insertion loss with a grating-coupler envelope and Lorentzian dips;
    drop: Lorentzian peaks ~−9 dB over a −45 dB background; flat: ~0 dB (monitor taps).
    Noise 0.01 dB rms over a −65 dB noise floor; float32, same length as wl_nm (float32 keeps
    a 940 001-point trace under ~60 ms; the grid itself stays float64).
    """
    n = wl_nm.size
    if n == 0:
        return np.zeros(0, dtype=np.float32)
    noise = rng.standard_normal(n, dtype=np.float32)
    if port == "flat":
        noise *= np.float32(0.01)
        noise -= np.float32(0.05)
        return noise
    center = band_center_nm(float(wl_nm[0]))
    x = ((wl_nm - center) * (1.0 / 40.0)).astype(np.float32)
    # grating-coupler envelope (linear): −5 dB at the center, −3 dB more at ±40 nm
    envelope = np.exp(np.float32(-0.1 * math.log(10.0)) * (np.float32(5.0) + 3.0 * x * x))
    envelope *= 1.0 + np.float32(0.018) * np.sin(
        np.float32(2 * math.pi * 40.0 / 0.83) * x + np.float32(chip.ripple_phase)
    )
    linear = chip.resonance_profile(wl_nm)
    if port == "drop":
        linear *= np.float32(0.3)
        linear += np.float32(1e-4)
    else:
        np.subtract(np.float32(1.0), linear, out=linear)
    linear *= envelope
    linear += np.float32(10.0 ** (-65.0 / 10.0))
    tf: np.ndarray = np.log10(linear)
    tf *= np.float32(10.0)
    noise *= np.float32(0.01)
    tf += noise
    return tf


def reference_level_dbm(
    wl_nm: np.ndarray, base_dbm: float, phase: float, rng: np.random.Generator, noise_db: float
) -> np.ndarray:
    """Return the raw reference level (dBm): base with a slow 0.3 dB ripple and small noise."""
    level = base_dbm + 0.3 * np.sin(2 * np.pi * (wl_nm - 1500.0) / 37.0 + phase)
    if noise_db > 0 and wl_nm.size:
        level = level + noise_db * rng.standard_normal(wl_nm.size)
    return level
