"""The app as `python -m ctp10_gui` runs it, plus its strip chart's frame count written to a file.

bench_stream starts this instead of the app's own entry point so it can read the frames the
Live tab's strip chart drew while stream clients were served: `python stream_app.py FILE ARGS`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6.QtCore import QTimer

from ctp10_gui import app as ctp10_app

FRAMES_EVERY_MS = 250


def write_frames(out: Path, frames: int) -> None:
    """Replace out with "<unix s> <frames>" in one step (the benchmark reads it any time)."""
    part = out.with_suffix(".part")
    part.write_text(f"{time.time()} {frames}\n")
    part.replace(out)


def main() -> int:
    """Run the app with argv[2:]; write "<unix s> <frames drawn>" to argv[1] four times a second."""
    out = Path(sys.argv[1])
    original_start = ctp10_app.start

    def start_and_count(ctx: ctp10_app.AppContext) -> None:
        original_start(ctx)
        chart = ctx.window.chart
        timer = QTimer(ctx.window)
        timer.timeout.connect(lambda: write_frames(out, chart.frames))
        timer.start(FRAMES_EVERY_MS)

    ctp10_app.start = start_and_count
    return ctp10_app.main(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
