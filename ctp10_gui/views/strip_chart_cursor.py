"""The strip chart's cursor readout: the sample nearest the mouse, each series in its own unit."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from ctp10_gui.hardware.power import ChannelStatus
from ctp10_gui.models.derived import DerivedChannel, DerivedKind
from ctp10_gui.models.live_history import LiveHistory
from ctp10_gui.models.ring_history import GAP_STATUS

STATUS_WORDS = {
    int(ChannelStatus.UNDER): "under range",
    int(ChannelStatus.OVER): "over range",
    int(ChannelStatus.ERROR): "error",
}

#: A series of the chart: a measured channel's number or a derived channel's name.
SeriesKey = int | str


def series_keys(history: LiveHistory) -> tuple[SeriesKey, ...]:
    """Return the chart's series in ring-column order: measured channels, then derived names."""
    return (*history.channels, *(c.name for c in history.derived))


def series_name(key: SeriesKey) -> str:
    """Return how the chart names a series: "CH3" or the derived channel's name."""
    return f"CH{key}" if isinstance(key, int) else key


def nearest_sample(history: LiveHistory, target: float) -> int | None:
    """Return the index of the sample nearest target (s); None if it is farther than stale.

    Gap markers are not samples: the cursor over a cut or an outage reads "no data", never
    a dash that looks like a current reading.
    """
    t, _y, status = history.ring.view()
    if len(t) == 0:
        return None
    i = int(np.searchsorted(t, target))
    near = [k for k in range(i - 2, i + 2) if 0 <= k < len(t) and status[k, 0] != GAP_STATUS]
    if not near:
        return None
    best = min(near, key=lambda k: abs(float(t[k]) - target))
    if abs(float(t[best]) - target) > history.stale_after_s:
        return None
    return best


def derived_legend(channel: DerivedChannel) -> str:
    """Return a derived curve's legend: "IL = CH4 − CH3 (dB)", "r = CH1 / CH2 (ratio, in dB)"."""
    drawn = {DerivedKind.DIFFERENCE_DB: "dB", DerivedKind.RATIO: "ratio, drawn in dB",
             DerivedKind.SUM_MW: "mW, drawn in dBm"}[channel.kind]
    return f"{channel.name} = {channel.expression} ({drawn})"


def derived_text(kind: DerivedKind, level: float) -> str:
    """Return a derived level (dB: the y of the chart) in its unit: "+1.2 dB", "0.75", "1.2 mW"."""
    if kind is DerivedKind.DIFFERENCE_DB:
        return f"{level:+.3f} dB"
    value = 10.0 ** (level / 10.0)
    return f"{value:.4g} mW" if kind is DerivedKind.SUM_MW else f"{value:.4g}"


def readout(history: LiveHistory, keys: Sequence[SeriesKey], references: Mapping[int, float],
            now: float, i: int) -> str:
    """Return the cursor line for sample i: its time before now, then every series' value."""
    t, y, status = history.ring.view()
    kinds = {c.name: c.kind for c in history.derived}
    parts = [f"{float(t[i] - now):+.2f} s"]
    for j, key in enumerate(keys):
        value = float(y[i, j])
        name = series_name(key)
        ref = references.get(key) if isinstance(key, int) else None
        if not math.isfinite(value):
            parts.append(f"{name} {STATUS_WORDS.get(int(status[i, j]), 'no value')}")
        elif isinstance(key, str):
            parts.append(f"{name} {derived_text(kinds[key], value)}")
        elif ref is not None:
            parts.append(f"{name} {value - ref:+.3f} dB")
        else:
            parts.append(f"{name} {value:.3f} dBm")
    return "   ".join(parts).replace("-", "−")
