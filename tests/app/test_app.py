"""The app: command line, settings round trip, corrupt settings, logging, crash hook, screenshot."""

from __future__ import annotations

import gc
import json
import logging
import logging.handlers
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QMessageBox

from ctp10_gui.app import (
    ExceptionReporter,
    ScreenshotTaker,
    build,
    main,
    parse_args,
    setup_logging,
    start,
)
from ctp10_gui.models.connection import LinkState
from ctp10_gui.models.settings import log_dir

REPO = Path(__file__).resolve().parents[2]


def _wait_live(qtbot: Any, ctx: Any) -> None:
    qtbot.waitUntil(lambda: ctx.controller.status.state is LinkState.LIVE, timeout=8000)


def test_command_line_options() -> None:
    args = parse_args(["--simulate", "--address", "10.0.0.5", "--log-level", "debug",
                       "--screenshot", "/tmp/x.png", "--record", "rec", "--settings", "s.json"])
    assert args.simulate and args.address == "10.0.0.5" and args.log_level == "DEBUG"
    assert args.screenshot == Path("/tmp/x.png") and args.record == Path("rec")
    assert args.settings == Path("s.json")
    with pytest.raises(SystemExit):
        parse_args(["--log-level", "loud"])


def test_settings_round_trip_and_first_start_on_the_simulator(
        qtbot: Any, user_dirs: Path) -> None:
    path = user_dirs / "settings.json"
    ctx = build(["--settings", str(path), "--record", str(user_dirs / "rec")])
    assert ctx.record_folder == user_dirs / "rec"
    start(ctx)
    _wait_live(qtbot, ctx)
    window = ctx.window
    assert window.on_simulator()  # no instrument configured yet: the simulator
    assert [s.kind for s in window.badges.specs][-1] == "simulator"
    window.chart.set_window(600.0)
    window.chart.set_min_span(2.5)
    window.apply_theme("light")
    controls = window.live_controls
    controls.interval_combo.setCurrentIndex(controls.interval_combo.findData(0.1))
    controls.select_module(1)
    controls.channel_boxes[4].setChecked(False)
    controls.request_unit("mW")
    qtbot.waitUntil(lambda: window.hub.unit == "mW", timeout=3000)
    window.resize(window.width(), 703)  # the offscreen screen is 800 × 800
    ctx.shutdown()

    saved = json.loads(path.read_text())
    assert saved["window_s"] == 600.0 and saved["theme"] == "light"
    assert saved["module"] == 1 and saved["channels"] == [1, 2, 3]
    assert saved["poll_interval_s"] == 0.1 and saved["power_unit"] == "mW"
    assert saved["min_span_db"] == 2.5 and saved["use_simulator"] is True
    assert saved["geometry_b64"]

    again = build(["--settings", str(path)])
    try:
        w = again.window
        assert w.chart.window_s == 600.0 and w.chart.window_combo.currentText() == "10 min"
        assert w.theme.name == "light" and w.menus.theme_actions["light"].isChecked()
        assert w.live_controls.module == 1 and w.live_controls.channels == (1, 2, 3)
        assert w.live_controls.interval_s == 0.1 and w.hub.unit == "mW"
        assert w.chart.autoscale.min_span == 2.5
        assert w.height() == 703
        assert again.controller.settings.module == 1
        assert again.controller.settings.interval_s == 0.1
    finally:
        again.shutdown()


def test_corrupt_settings_file_gives_defaults_and_a_non_modal_message(
        qtbot: Any, user_dirs: Path) -> None:
    path = user_dirs / "settings.json"
    path.write_text("{ this is not json")
    ctx = build(["--settings", str(path)])
    try:
        start(ctx)
        (box,) = ctx.window.messages
        assert not box.isModal() and "corrupt" in box.text()
        assert ctx.settings.module == 4 and ctx.settings.channels == [1, 2, 3, 4]
        assert list(user_dirs.glob("settings.json.corrupt-*"))
        _wait_live(qtbot, ctx)  # the app works normally behind the message
    finally:
        ctx.shutdown()


def test_a_bad_address_on_the_command_line_exits_with_a_sentence(
        user_dirs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--settings", str(user_dirs / "s.json"), "--address", "10.0.0.300"]) == 2
    assert "not a valid IPv4 address" in capsys.readouterr().err


def test_screenshot_gives_up_without_live_data(qtbot: Any, user_dirs: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    ctx = build(["--settings", str(user_dirs / "s.json")])
    try:
        ctx.window.show()  # never connected
        codes: list[int] = []
        taker = ScreenshotTaker(ctx.window, user_dirs / "shot.png", ctx.app, timeout_s=0.3,
                                on_exit=codes.append)
        qtbot.waitUntil(lambda: codes == [3], timeout=3000)
        assert "no live data within" in taker.error and not (user_dirs / "shot.png").exists()
        assert "no screenshot taken" in capsys.readouterr().err
    finally:
        ctx.shutdown()


def test_unexpected_exceptions_are_logged_and_shown_once(
        qtbot: Any, user_dirs: Path, caplog: pytest.LogCaptureFixture) -> None:
    ctx = build(["--settings", str(user_dirs / "s.json")])
    try:
        ctx.window.show()
        reporter: ExceptionReporter = ctx.reporter
        for _ in range(3):
            try:
                raise RuntimeError("boom in a slot")
            except RuntimeError as exc:
                reporter.hook(type(exc), exc, exc.__traceback__)
        boxes = [b for b in ctx.window.messages if "boom in a slot" in b.text()]
        assert len(boxes) == 1 and not boxes[0].isModal()
        assert boxes[0].icon() == QMessageBox.Icon.Warning
        assert sum("unexpected error" in r.message for r in caplog.records) == 3
    finally:
        ctx.shutdown()
    assert "boom in a slot" in (log_dir() / "ctp10-gui.log").read_text()


def test_log_goes_to_a_rotating_file_and_to_stderr_when_asked(
        user_dirs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = setup_logging("DEBUG", folder=user_dirs / "logs")
    logging.getLogger("ctp10_gui.test").debug("hello log")
    handlers = [h for h in logging.getLogger().handlers if getattr(h, "_ctp10", False)]
    assert any(isinstance(h, logging.handlers.RotatingFileHandler) for h in handlers)
    for h in handlers:
        h.flush()
    assert "hello log" in path.read_text()
    assert "hello log" in capsys.readouterr().err


@pytest.mark.slow
def test_python_m_ctp10_gui_saves_a_screenshot_of_live_data(tmp_path: Path) -> None:
    shot = tmp_path / "window.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
           "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "XDG_STATE_HOME": str(tmp_path / "state")}
    result = subprocess.run(
        [sys.executable, "-m", "ctp10_gui", "--simulate", "--screenshot", str(shot),
         "--settings", str(tmp_path / "settings.json")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    assert (tmp_path / "settings.json").exists()


def test_the_full_window_fits_a_1024_by_700_laptop_screen(qtbot: Any, user_dirs: Path) -> None:
    ctx = build(["--settings", str(user_dirs / "s.json")])
    try:
        ctx.window.show()  # with the instrument, sweep/trace and recording parts added
        hint = ctx.window.minimumSizeHint()
        assert hint.width() <= 1024 and hint.height() <= 700, hint
        ctx.window.resize(1024, 700)
        qtbot.waitUntil(lambda: ctx.window.width() == 1024, timeout=1000)
    finally:
        ctx.shutdown()


def test_keyboard_starts_and_aborts_a_sweep_from_any_tab(qtbot: Any, user_dirs: Path) -> None:
    """F5 / Shift+F5 work while the user watches the Live tab, goggles on, mouse out of reach."""
    ctx = build(["--simulate", "--settings", str(user_dirs / "s.json")])
    try:
        start(ctx)
        _wait_live(qtbot, ctx)
        window, sweep = ctx.window, ctx.window.sweep
        assert window.tabs.currentIndex() == 0  # the Live tab
        window.activateWindow()
        qtbot.waitUntil(window.isActiveWindow, timeout=2000)
        qtbot.keyClick(window, Qt.Key.Key_F5)
        qtbot.waitUntil(lambda: ctx.controller.status.state is LinkState.BUSY, timeout=5000)
        assert sweep.abort_action.isEnabled() and not sweep.start_action.isEnabled()
        with qtbot.waitSignal(sweep.sweep_finished, timeout=10000) as finished:
            qtbot.keyClick(window, Qt.Key.Key_F5, Qt.KeyboardModifier.ShiftModifier)
        assert finished.args[0] == "aborted"
        _wait_live(qtbot, ctx)  # live acquisition resumes by itself
    finally:
        ctx.shutdown()


def test_cycles_are_collected_in_the_gui_thread_not_in_a_busy_worker(
        qtbot: Any, user_dirs: Path) -> None:
    ctx = build(["--settings", str(user_dirs / "settings.json")])
    gc.enable()  # as in any Python process (the test fixtures turn it off for Qt tests)
    start(ctx)
    try:
        freed_in: list[str] = []
        orphan = QObject()
        orphan.destroyed.connect(lambda *_: freed_in.append(threading.current_thread().name),
                                 Qt.ConnectionType.DirectConnection)
        orphan.cycle = orphan  # only the cyclic collector can free it now
        del orphan

        def allocate() -> None:  # far past the 700 allocations that trigger a collection
            junk = [[] for _ in range(50_000)]
            del junk

        busy = threading.Thread(target=allocate, name="busy-worker")
        busy.start()
        busy.join()
        assert freed_in == []  # a QObject freed here could deadlock Qt against the GIL
        qtbot.waitUntil(lambda: bool(freed_in), timeout=3000)
        assert freed_in == [threading.current_thread().name]
    finally:
        ctx.shutdown()
    assert gc.isenabled()  # given back once no other thread of ours runs
