"""File operations of the recording: atomic JSON, folder fsync, OSError sentences."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=False)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def fsync_dir(folder: Path) -> None:
    # Makes a new file's directory entry durable; POSIX only (Windows cannot open a folder).
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def describe_oserror(action: str, path: Path, exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    return f"{action} {path}: {reason}"
