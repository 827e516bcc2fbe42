"""App tests run with per-test config/log folders so nothing touches the user's real ones."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point platformdirs (XDG) at tmp_path; remove the app's log handlers afterwards."""
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    root = logging.getLogger()
    level = root.level
    yield tmp_path
    for handler in list(root.handlers):
        if getattr(handler, "_ctp10", False):
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
