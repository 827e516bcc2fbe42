"""No display, no abort: the real app, started without a display or without a library, says why."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ctp10_gui import display_check
from ctp10_gui.display_check import (
    all_packages,
    check_display,
    install_command,
    missing_libraries,
    read_elf_dependencies,
    xcb_plugin,
)

REPO = Path(__file__).resolve().parents[2]
NO_DESKTOP = "needs a graphical desktop and found none"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the display check runs on Linux only")


def bare_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Return an environment with no display and no Qt platform: a login over ssh, a service."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
           "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "XDG_STATE_HOME": str(tmp_path / "state")}
    if "PYTHONPATH" in os.environ:
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    env.update(extra)
    return env


def run_app(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ctp10_gui", *args, "--settings", str(tmp_path / "s.json")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=90, check=False)


def log_text(tmp_path: Path) -> str:
    logs = list((tmp_path / "state").rglob("ctp10-gui.log"))
    return logs[0].read_text(encoding="utf-8") if logs else ""


def test_no_display_exits_with_a_sentence_not_an_abort(tmp_path: Path) -> None:
    result = run_app(tmp_path, bare_env(tmp_path), "--simulate")
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.returncode != 128 + signal.SIGABRT
    assert NO_DESKTOP in result.stderr and "Traceback" not in result.stderr
    assert NO_DESKTOP in log_text(tmp_path)


@pytest.mark.slow
def test_a_screenshot_needs_no_display(tmp_path: Path) -> None:
    shot = tmp_path / "out.png"
    result = run_app(tmp_path, bare_env(tmp_path), "--simulate", "--screenshot", str(shot))
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "offscreen platform is used for the screenshot" in log_text(tmp_path)
    assert "Exception ignored" not in result.stderr  # the asyncio loop closed with the app


def plugin_needing(tmp_path: Path, absent: str) -> Path:
    """Copy the real xcb plugin with its libxcb-icccm dependency renamed to absent (same length)."""
    real = xcb_plugin({})
    if real is None:
        pytest.skip("this PySide6 has no xcb platform plugin")
    assert real is not None
    data = real.read_bytes()
    wanted = b"\0libxcb-icccm.so.4\0"
    assert len(absent) == len(wanted) - 2 and data.count(wanted) == 1
    folder = tmp_path / "plugins" / "platforms"
    folder.mkdir(parents=True)
    copy = folder / "libqxcb.so"
    copy.write_bytes(data.replace(wanted, b"\0" + absent.encode() + b"\0"))
    # The copy's RUNPATH ($ORIGIN/../../lib) must still find Qt's own libraries.
    (tmp_path / "lib").symlink_to(real.parent.parent.parent / "lib")
    return copy


def test_a_missing_xcb_library_is_named_with_its_package(tmp_path: Path) -> None:
    plugin = plugin_needing(tmp_path, "libxcb-iccZZ.so.4")
    assert "libxcb-iccZZ.so.4" in read_elf_dependencies(plugin).needed
    assert "libxcb-iccZZ.so.4" in missing_libraries([plugin])
    env = bare_env(tmp_path, QT_PLUGIN_PATH=str(tmp_path / "plugins"))
    result = run_app(tmp_path, env, "--simulate")
    assert result.returncode == 2, result.stderr[-2000:]
    assert "xcb platform plugin cannot load" in result.stderr
    assert "libxcb-iccZZ.so.4" in result.stderr and NO_DESKTOP in result.stderr
    assert "libxcb-iccZZ.so.4" in log_text(tmp_path)


def test_offscreen_and_headless_platforms_are_not_checked() -> None:
    for platform in ("offscreen", "minimal", "vnc:size=800x600"):
        assert check_display({"QT_QPA_PLATFORM": platform}).message is None


def test_a_screenshot_without_a_display_goes_offscreen() -> None:
    env: dict[str, str] = {}
    assert display_check.prepare_platform(env, screenshot=True) is None
    assert env["QT_QPA_PLATFORM"] == "offscreen"


def test_wayland_asked_for_without_a_wayland_display() -> None:
    message = check_display({"QT_QPA_PLATFORM": "wayland"}).message
    assert message is not None and "WAYLAND_DISPLAY is not set" in message
    served = {"QT_QPA_PLATFORM": "wayland", "WAYLAND_DISPLAY": "wayland-0"}
    assert check_display(served).message is None


def free_display_number() -> int:
    return next(n for n in range(4200, 4300) if not Path(f"/tmp/.X11-unix/X{n}").exists())


def test_an_x_display_that_nobody_serves_is_named() -> None:
    number = free_display_number()
    message = check_display({"DISPLAY": f":{number}"}).message
    assert message is not None and f"cannot reach the X display ':{number}'" in message


def test_an_x_display_that_answers_passes_the_display_check() -> None:
    number = free_display_number()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(f"\0/tmp/.X11-unix/X{number}")  # the abstract socket an X server opens
        server.listen(1)
        verdict = check_display({"DISPLAY": f":{number}"})
    assert not any("cannot reach" in p or NO_DESKTOP in p for p in verdict.problems)


def test_elf_reader_on_a_real_plugin_and_on_a_text_file(tmp_path: Path) -> None:
    plugin = xcb_plugin({})
    if plugin is None:
        pytest.skip("this PySide6 has no xcb platform plugin")
    assert plugin is not None
    deps = read_elf_dependencies(plugin)
    assert {"libxcb.so.1", "libxcb-cursor.so.0", "libQt6XcbQpa.so.6"} <= set(deps.needed)
    assert deps.search_dirs and all(d.is_absolute() for d in deps.search_dirs)
    text = tmp_path / "notes.txt"
    text.write_text("not a library")
    with pytest.raises(ValueError, match="not an ELF file"):
        read_elf_dependencies(text)


def test_install_command_names_debian_packages() -> None:
    assert install_command(["libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libglib-2.0.so.0",
                            "libgthread-2.0.so.0"]) == (
        "sudo apt-get install libxcb-icccm4 libxcb-keysyms1 libglib2.0-0")


def test_readme_apt_line_is_every_package_the_check_knows() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    lines = re.findall(r"^sudo apt-get install (.+)$", readme, flags=re.MULTILINE)
    assert len(lines) == 1
    assert lines[0].split() == all_packages()


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="xvfb-run (Debian xvfb) not installed")
@pytest.mark.slow
def test_under_xvfb_the_xcb_plugin_loads_or_names_what_is_missing(tmp_path: Path) -> None:
    shot = tmp_path / "out.png"
    env = bare_env(tmp_path)
    result = subprocess.run(
        ["xvfb-run", "-a", sys.executable, "-m", "ctp10_gui", "--simulate", "--screenshot",
         str(shot), "--settings", str(tmp_path / "s.json")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    if display_check.missing_libraries([p for p in [xcb_plugin({})] if p is not None]):
        assert result.returncode == 2 and "apt-get install" in result.stderr
    else:
        assert result.returncode == 0, result.stderr[-2000:]
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_font_file_is_named_and_a_font_file_is_enough(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folders = [tmp_path / "system", tmp_path / "home-fonts"]
    monkeypatch.setattr(display_check, "font_folders", lambda env: folders)
    message = display_check.font_problem({})
    assert message is not None and "fonts-dejavu-core" in message
    folders[1].mkdir(parents=True)
    (folders[1] / "readme.txt").write_text("no font here")
    assert display_check.font_problem({}) is not None
    (folders[1] / "nested").mkdir()
    (folders[1] / "nested" / "DejaVuSans.ttf").write_bytes(b"\0\1\0\0")
    assert display_check.font_problem({}) is None
