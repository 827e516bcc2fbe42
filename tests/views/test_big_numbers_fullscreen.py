"""Big numbers (F11) cover the screen, also on an X server with no window manager."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.views.conftest import Rig

# Runs the real app window on a bare X server (Xvfb, no window manager), presses F11 and
# prints the big-numbers geometry once the fullscreen check has had its chance.
XVFB_PROGRAM = """
import json, sys
from PySide6.QtCore import QTimer
from ctp10_gui.app import build
ctx = build(["--settings", sys.argv[1]])
ctx.window.show()
def press():
    ctx.window.big_action.trigger()
    QTimer.singleShot(1000, report)  # a window manager would have answered by now
def report():
    big = ctx.window.big_numbers
    g, s = big.geometry(), big.screen().geometry()
    print(json.dumps({"platform": ctx.app.platformName(), "window": [g.x(), g.y(), g.width(),
          g.height()], "screen": [s.x(), s.y(), s.width(), s.height()]}))
    ctx.app.quit()
QTimer.singleShot(500, press)
ctx.app.exec()
ctx.shutdown()
"""


def test_f11_covers_the_screen_offscreen(qtbot: Any, make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
    rig.window.big_action.trigger()  # F11
    big = rig.window.big_numbers
    assert big is not None
    qtbot.waitExposed(big)
    assert big.isFullScreen()
    screen = rig.window.screen().geometry()
    qtbot.waitUntil(lambda: big.geometry() == screen, timeout=2000)
    assert big.screen() is rig.window.screen()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("xvfb-run") is None,
                    reason="xvfb-run (Debian package xvfb) is not installed: no bare X server")
def test_f11_covers_the_screen_without_a_window_manager(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "cfg"), XDG_STATE_HOME=str(tmp_path / "state"))
    result = subprocess.run(
        ["xvfb-run", "-a", "-s", "-screen 0 1280x1024x24", sys.executable, "-c",
         XVFB_PROGRAM, str(tmp_path / "s.json")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode == 2 and "apt-get install" in result.stderr:
        pytest.skip(f"the xcb platform cannot load here: {result.stderr.strip()[-300:]}")
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["platform"] == "xcb"
    assert report["screen"] == [0, 0, 1280, 1024]
    assert report["window"] == report["screen"]
