"""Session names a lab notebook can cite: date, time, instrument serial, module, channels, label.

``2026-12-04_153012_CTP10-SIM-0001_M4_CH1-4_sample-7`` names the sidecar
(``<name>.json``) and the CSV parts (``<name>_part001.csv``); a name already taken gets
``-2``, ``-3``… Names written before this scheme (``session_20261204-153012``) are still
recognised, so recovery closes old sessions too.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence

# Label characters kept in a file name: room for "wafer-12_die-C4_ring-3", short for any path.
LABEL_NAME_CHARS = 40
NO_SERIAL = "no-instrument"  # the instrument had not answered when the session began

_UNSAFE = re.compile(r"[^\w.+-]+")  # letters, digits, _ . + - survive on every file system
_REPEATS = re.compile(r"-{2,}")

# A session name (group 1 of PART_NAME): the new scheme or the older "session_" one.
SESSION_NAME = (
    r"(?:[0-9]{4}-[0-9]{2}-[0-9]{2}_[0-9]{6}_[\w.+-]+?"
    r"|session_[0-9]{8}-[0-9]{6})(?:-[0-9]+)?"
)
PART_NAME = re.compile(rf"^({SESSION_NAME})_part([0-9]{{3,}})\.csv$")
SIDECAR_NAME = re.compile(rf"^({SESSION_NAME})\.json$")


def safe_name_part(text: str, max_chars: int = LABEL_NAME_CHARS) -> str:
    """Return text usable in a file name: unsafe runs become '-', at most max_chars chars."""
    cleaned = _REPEATS.sub("-", _UNSAFE.sub("-", text.strip()))
    # Leading dots would hide the file on Unix; trailing dots and blanks vanish on Windows.
    return cleaned[:max_chars].strip("-._")


def channels_text(channels: Sequence[int]) -> str:
    """Return 'CH1-4' for 1,2,3,4, 'CH1-2+5' for 1,2,5, 'CH3' for 3 (channels 1–6)."""
    chans = sorted({int(c) for c in channels})
    if not chans:
        return "CH-none"
    runs: list[str] = []
    start = prev = chans[0]
    for c in [*chans[1:], None]:
        if c is not None and c == prev + 1:
            prev = c
            continue
        runs.append(f"{start}" if start == prev else f"{start}-{prev}")
        if c is not None:
            start = prev = c
    return "CH" + "+".join(runs)


def session_stem(
    start_wall: float, serial: str | None, module: int, channels: Sequence[int], label: str = ""
) -> str:
    """Return '2026-12-04_153012_<serial>_M4_CH1-4[_label]' for a session begun at start_wall."""
    stamp = time.strftime("%Y-%m-%d_%H%M%S", time.localtime(start_wall))
    who = safe_name_part(serial or "") or NO_SERIAL
    parts = [stamp, who, f"M{int(module)}", channels_text(channels)]
    tag = safe_name_part(label)
    if tag:
        parts.append(tag)
    return "_".join(parts)
