"""What the big readouts show per channel: value, peak hold, Δ to peak, age, relative dB.

A value that is not live must never look live: each reading carries its status (under/over
range, error) and the monotonic time of the last good reply, so the view can grey it out with
its age. Plain Python: no Qt.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import overload

import numpy as np

from ctp10_gui.hardware.ctp10 import DETECTOR_FLOOR_DBM, DETECTOR_MAX_DBM
from ctp10_gui.hardware.power import ChannelStatus, PowerUnitText
from ctp10_gui.models.alignment import DEFAULT_PEAK_AVERAGE_S, AveragedPeak
from ctp10_gui.models.samples import SnapshotBatch

log = logging.getLogger(__name__)

MINUS = "\u2212"  # the true minus sign: a hyphen is too short to read from 2 m away
NO_DATA = "— —"



# --------------------------------------------------------------------------- conversions


@overload
def dbm_to_mw(dbm: float) -> float: ...
@overload
def dbm_to_mw(dbm: np.ndarray) -> np.ndarray: ...
def dbm_to_mw(dbm: float | np.ndarray) -> float | np.ndarray:
    """Convert dBm to mW (−inf dBm → 0 mW, NaN stays NaN); works on floats and arrays."""
    out = np.power(10.0, np.asarray(dbm, dtype=np.float64) / 10.0)
    return float(out) if np.ndim(out) == 0 else out


@overload
def mw_to_dbm(mw: float) -> float: ...
@overload
def mw_to_dbm(mw: np.ndarray) -> np.ndarray: ...
def mw_to_dbm(mw: float | np.ndarray) -> float | np.ndarray:
    """Convert mW to dBm; 0 or negative mW (no power, detector noise) gives −inf, NaN stays NaN."""
    arr = np.asarray(mw, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(arr > 0, 10.0 * np.log10(np.where(arr > 0, arr, 1.0)), -np.inf)
    out = np.where(np.isnan(arr), np.nan, out)
    return float(out) if np.ndim(out) == 0 else out


# --------------------------------------------------------------------------- formatting


def _signed(text: str) -> str:
    """Replace a leading hyphen with the true minus sign and drop the sign of a zero."""
    if text.startswith("-"):
        body = text[1:]
        if not any(ch in "123456789" for ch in body):
            return body  # "-0.00" would suggest a negative value
        return MINUS + body
    return text


_WATT_PREFIXES = (("W", 1e3), ("mW", 1.0), ("µW", 1e-3), ("nW", 1e-6), ("pW", 1e-9), ("fW", 1e-12))


def format_mw(mw: float) -> str:
    """Format a power in mW with 4 significant digits and an SI prefix: "58.30 µW", "1.000 mW"."""
    if not math.isfinite(mw):
        return NO_DATA
    if mw <= 0:
        return "0 mW"
    # The largest prefix that keeps the number ≥ 1 ("58.30 µW" rather than "0.05830 mW").
    i = next((k for k, (_, scale) in enumerate(_WATT_PREFIXES) if mw / scale >= 1.0), -1)
    i %= len(_WATT_PREFIXES)
    value = mw / _WATT_PREFIXES[i][1]
    decimals = max(0, 3 - math.floor(math.log10(value)))
    rounded = round(value, decimals)
    if rounded >= 1000 and i > 0:
        # 999.96 µW rounds to 1000: show it as "1.000 mW", not "1000.0 µW".
        i -= 1
        value = mw / _WATT_PREFIXES[i][1]
        decimals = 3
    elif decimals > 0 and rounded >= 10 ** (4 - decimals):
        decimals -= 1  # 9.9996 rounds up a decade: "10.00", not "10.000"
    return f"{value:.{decimals}f} {_WATT_PREFIXES[i][0]}"


def _format_in_unit(value_dbm: float, unit: PowerUnitText) -> str:
    if unit == "mW":
        return format_mw(dbm_to_mw(value_dbm))
    return _signed(f"{value_dbm:.2f}") + " dBm"


def format_power(
    value_dbm: float,
    unit: PowerUnitText,
    status: ChannelStatus | int | None,
    floor_dbm: float = DETECTOR_FLOOR_DBM,
    max_dbm: float = DETECTOR_MAX_DBM,
) -> str:
    """Format a reading for a readout: "−12.34 dBm", "58.30 µW", "< −80.00 dBm", "≥ 10.00 dBm".

    status None or a non-finite OK value gives "— —" (no data); ERROR gives "error".
    """
    if status is None:
        return NO_DATA
    status = ChannelStatus(int(status))
    if status == ChannelStatus.ERROR:
        return "error"
    if status == ChannelStatus.UNDER:
        return "< " + _format_in_unit(floor_dbm, unit)
    if status == ChannelStatus.OVER:
        return "≥ " + _format_in_unit(max_dbm, unit)
    if value_dbm is None or not math.isfinite(value_dbm):
        return NO_DATA
    return _format_in_unit(value_dbm, unit)


def format_db(value_db: float | None, *, signed: bool = True) -> str:
    """Format a ratio in dB with 2 decimals ("+1.23 dB", "−0.45 dB"); None/NaN gives "— —"."""
    if value_db is None or not math.isfinite(value_db):
        return NO_DATA
    text = _signed(f"{value_db:.2f}")
    if signed and not text.startswith(MINUS) and text.strip("0.") != "":
        text = "+" + text
    return text + " dB"


def format_age(seconds: float | None) -> str:
    """Format the age of a value (s ≥ 0): "1.8 s old", "42 s old", "2 min old", "3 h old"."""
    if seconds is None or not math.isfinite(seconds):
        return ""
    s = max(0.0, float(seconds))  # a clock step must not print a negative age
    if round(s, 1) < 10:
        return f"{s:.1f} s old"
    if s < 60:
        return f"{int(s)} s old"
    if s < 3600:
        return f"{int(s // 60)} min old"
    return f"{int(s // 3600)} h old"


def reference_key(serial: str, module: int, channel: int, wavelength_nm: float) -> str:
    """Return the persistence key of a reference: "<serial>/M<module>/C<channel>/<λ .3f>nm"."""
    wl = round(float(wavelength_nm), 3) + 0.0  # + 0.0 folds −0.0 into 0.0
    return f"{serial.strip()}/M{int(module)}/C{int(channel)}/{wl:.3f}nm"


# --------------------------------------------------------------------------- model


@dataclass
class ChannelReading:
    """What one big readout shows: latest value, status, peak hold and reference (dBm, s)."""

    channel: int
    value_dbm: float = math.nan  # latest value, NaN unless status is OK
    status: ChannelStatus | None = None  # None: nothing received yet
    last_good_t: float | None = None  # monotonic s of the last reply that was not ERROR
    peak_dbm: float = math.nan  # highest moving average of OK values since the last reset
    peak_t_wall: float | None = None  # wall-clock s (time.time) of that peak
    peak_t_mono: float | None = None  # monotonic s of that peak
    raw_max_dbm: float = math.nan  # highest single OK value since the last reset
    reference_dbm: float | None = None

    def age_s(self, now: float) -> float | None:
        """Return the age (s) of the last good reading at monotonic time now, None if none."""
        return None if self.last_good_t is None else now - self.last_good_t

    def delta_to_peak_db(self) -> float | None:
        """Return value − peak in dB (≤ 0), None unless both are known."""
        if math.isfinite(self.value_dbm) and math.isfinite(self.peak_dbm):
            return self.value_dbm - self.peak_dbm
        return None

    def relative_db(self) -> float | None:
        """Return value − reference in dB, None unless both are known."""
        if self.reference_dbm is not None and math.isfinite(self.value_dbm):
            return self.value_dbm - self.reference_dbm
        return None


class ReadoutModel:
    """Per-channel latest value, peak hold, Δ to peak, stale age, range status and relative dB.

    The peak is that of a moving average over peak_average_s s (AveragedPeak), so a noise
    spike cannot inflate it; the raw maximum is kept beside it. Readings belong to
    (instrument, module, channel): another address, another serial or another module starts
    every reading afresh and calls on_reset with why (one sentence).
    """

    def __init__(self, channels: Sequence[int], module: int | None = None, *,
                 on_reset: Callable[[str], None] = lambda why: None,
                 peak_average_s: float = DEFAULT_PEAK_AVERAGE_S) -> None:
        """Track channels (1–6) of module (1–20, None: first batch); peaks of a ≥ 0 s average."""
        self.module = module
        self.peak_average_s = float(peak_average_s)
        self._peaks: dict[int, AveragedPeak] = {}
        self.address: str | None = None  # VISA address the readings come from, None: unknown
        self.serial: str | None = None  # serial of the instrument there, None: not yet known
        self.on_reset = on_reset
        self._readings: dict[int, ChannelReading] = {}
        self._references: dict[int, float] = {}
        self.set_channels(channels, module=module)

    @property
    def channels(self) -> tuple[int, ...]:
        """Return the tracked channels in display order."""
        return tuple(self._readings)

    def set_channels(self, channels: Sequence[int], *, module: int | None = None) -> None:
        """Track these channels; kept channels keep their state, a new module starts afresh."""
        if module is not None and self.module is not None and module != self.module:
            self._forget(f"module {self.module} → {module}")
        if module is not None:
            self.module = module
        old = self._readings
        self._readings = {}
        for c in (int(c) for c in channels):
            kept = old.get(c)
            self._readings[c] = kept or ChannelReading(c, reference_dbm=self._references.get(c))
        self._peaks = {c: self._peaks.get(c) or AveragedPeak(self.peak_average_s)
                       for c in self._readings}

    def set_peak_average(self, seconds: float) -> None:
        """Take the peak of a seconds-long moving average (s ≥ 0) from now on; peaks restart."""
        probe = AveragedPeak(seconds)  # refuses a bad value before anything changes
        self.peak_average_s = probe.average_s
        self._peaks = {c: AveragedPeak(self.peak_average_s) for c in self._readings}
        self.reset_peak(None)

    def apply(self, batch: SnapshotBatch) -> None:
        """Take the newest value, status and peak of each tracked channel from a batch."""
        if len(batch) == 0:
            return
        if self.module is not None and batch.module != self.module:
            # Peaks and references of another module's detectors would be wrong here.
            self._forget(f"module {self.module} → {batch.module}")
        self.module = batch.module
        values, status = batch.values_dbm, batch.status
        for j, ch in enumerate(batch.channels):
            r = self._readings.get(ch)
            if r is None:
                continue
            col_status = status[:, j]
            r.status = ChannelStatus(int(col_status[-1]))
            last = values[-1, j]
            r.value_dbm = float(last) if r.status == ChannelStatus.OK else math.nan
            good = np.flatnonzero(col_status != ChannelStatus.ERROR)
            if len(good):
                r.last_good_t = float(batch.t_mono[good[-1]])
            peak = self._peaks[ch]
            before = peak.peak_t
            peak.add(batch.t_mono, values[:, j], col_status == ChannelStatus.OK)
            r.raw_max_dbm = peak.raw_max_dbm
            if peak.peak_t != before and math.isfinite(peak.peak_dbm):
                r.peak_dbm = peak.peak_dbm
                r.peak_t_mono = peak.peak_t
                k = min(int(np.searchsorted(batch.t_mono, peak.peak_t)), len(batch) - 1)
                r.peak_t_wall = float(batch.t_wall[k])

    def reading(self, channel: int) -> ChannelReading:
        """Return a copy of one channel's reading (KeyError if the channel is not tracked)."""
        return replace(self._reading(channel))

    def readings(self) -> list[ChannelReading]:
        """Return copies of all tracked readings in display order."""
        return [replace(r) for r in self._readings.values()]

    def reset_peak(self, channel: int | None = None) -> None:
        """Forget the peak of one channel, or of all channels when channel is None."""
        targets: Iterable[ChannelReading] = (
            self._readings.values() if channel is None else [self._reading(channel)]
        )
        for r in targets:
            r.peak_dbm = r.raw_max_dbm = math.nan
            r.peak_t_wall = r.peak_t_mono = None
            self._peaks[r.channel].reset()

    def set_reference(self, channel: int) -> float | None:
        """Use the channel's current value (dBm) as its reference; None (unchanged) if no value."""
        r = self._reading(channel)
        if r.status != ChannelStatus.OK or not math.isfinite(r.value_dbm):
            return None
        self._references[channel] = r.value_dbm
        r.reference_dbm = r.value_dbm
        return r.value_dbm

    def clear_reference(self, channel: int) -> None:
        """Drop the reference of one channel (relative mode then shows no value for it)."""
        self._references.pop(channel, None)
        if channel in self._readings:
            self._readings[channel].reference_dbm = None

    @property
    def references(self) -> dict[int, float]:
        """Return a copy of the references (dBm) by channel."""
        return dict(self._references)

    def load_references(self, refs: Mapping[int, float]) -> None:
        """Replace all references with refs (channel → dBm); non-finite entries are skipped."""
        clean: dict[int, float] = {}
        for ch, value in refs.items():
            v = float(value)
            if math.isfinite(v):
                clean[int(ch)] = v
            else:
                log.warning("reference of channel %s ignored: %r is not a power", ch, value)
        self._references = clean
        for ch, r in self._readings.items():
            r.reference_dbm = clean.get(ch)

    def _reading(self, channel: int) -> ChannelReading:
        try:
            return self._readings[channel]
        except KeyError:
            raise KeyError(f"channel {channel} is not shown (shown: {self.channels})") from None

    def set_instrument(self, address: str | None, serial: str | None) -> None:
        """Name where readings come from; another address or serial starts afresh (None: keep)."""
        if address is not None and self.address is not None and address != self.address:
            self._forget(f"connected to another address ({address})")
            self.serial = None
        elif serial is not None and self.serial is not None and serial != self.serial:
            self._forget(f"a different instrument answers (serial {serial}, was {self.serial})")
        if address is not None:
            self.address = address
        if serial is not None:
            self.serial = serial

    def _forget(self, why: str) -> None:
        """Start every reading afresh; tell on_reset why when something was forgotten."""
        had_data = any(r.status is not None or math.isfinite(r.peak_dbm)
                       for r in self._readings.values())
        log.info("readouts reset: %s", why)
        self._references = {}
        self._readings = {c: ChannelReading(c) for c in self._readings}
        for peak in self._peaks.values():
            peak.reset()
        if had_data:
            self.on_reset(why)
