"""Y autoscale of the strip chart that never jitters: expand at once, shrink after a slack."""

from __future__ import annotations

import math


class YAutoRange:
    """Y autoscale that never jitters: expand at once, shrink only after a sustained slack.

    The range keeps a minimum span (dB) so detector noise at the floor does not fill the
    plot; it grows as soon as data leaves it, and shrinks back around the data only when the
    data has used less than shrink_fill of the span for shrink_after_s seconds.
    """

    def __init__(self, min_span: float = 1.0, *, margin: float = 0.1, shrink_fill: float = 0.5,
                 shrink_after_s: float = 2.0) -> None:
        """Create with min_span (dB, > 0), margin (fraction of span) and shrink rules."""
        self.min_span = min_span
        self.margin = margin
        self.shrink_fill = shrink_fill
        self.shrink_after_s = shrink_after_s
        self.range: tuple[float, float] | None = None
        self._slack_since: float | None = None

    def fitted(self, lo: float, hi: float) -> tuple[float, float]:
        """Return the range that frames data lo..hi (dB) with margin and minimum span."""
        span = max((hi - lo) * (1.0 + 2.0 * self.margin), self.min_span)
        centre = 0.5 * (lo + hi)
        return (centre - 0.5 * span, centre + 0.5 * span)

    def fit(self, lo: float, hi: float) -> tuple[float, float]:
        """Set and return the fitted range for data lo..hi (dB)."""
        self.range = self.fitted(lo, hi)
        self._slack_since = None
        return self.range

    def update(self, lo: float, hi: float, now: float) -> tuple[float, float] | None:
        """Feed the visible data extent lo..hi (dB) at time now (s); return a new range or None."""
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return None
        if self.range is None:
            return self.fit(lo, hi)
        r0, r1 = self.range
        if lo < r0 or hi > r1:
            pad = self.margin * max(hi - lo, self.min_span)
            new0, new1 = min(r0, lo - pad), max(r1, hi + pad)
            self.range = (new0, new1)
            self._slack_since = None
            return self.range
        span = r1 - r0
        f0, f1 = self.fitted(lo, hi)
        # Shrinking only pays when it changes the picture noticeably (≥ 10 % of the span).
        if (hi - lo) < self.shrink_fill * span and (f1 - f0) < 0.9 * span:
            if self._slack_since is None:
                self._slack_since = now
            elif now - self._slack_since >= self.shrink_after_s:
                return self.fit(lo, hi)
        else:
            self._slack_since = None
        return None
