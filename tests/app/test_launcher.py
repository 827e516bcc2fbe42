"""Desktop launcher: Linux .desktop entry + icon; Windows shortcuts via PowerShell WScript.Shell."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ctp10_gui import launcher


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setattr(launcher.shutil, "which", lambda name: None)  # no xdg tools here
    (tmp_path / "Desktop").mkdir()
    return tmp_path


def test_linux_install_writes_menu_entry_icon_and_desktop_copy(home: Path) -> None:
    assert launcher.main([]) == 0
    entry = home / ".local/share/applications/ctp10-gui.desktop"
    text = entry.read_text()
    assert "Name=CTP10 Live Power" in text and "Terminal=false" in text
    exec_line = next(line for line in text.splitlines() if line.startswith("Exec="))
    assert "ctp10-gui" in exec_line or "-m ctp10_gui" in exec_line
    icon = home / ".local/share/icons/hicolor/256x256/apps/ctp10-gui.png"
    assert f"Icon={icon}" in text and icon.read_bytes()[:4] == b"\x89PNG"
    desktop = home / "Desktop/ctp10-gui.desktop"
    assert desktop.read_text() == text
    assert os.stat(desktop).st_mode & stat.S_IXUSR
    assert launcher.main(["--uninstall"]) == 0
    assert not entry.exists() and not desktop.exists()


def test_dry_run_changes_nothing(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert launcher.main(["--dry-run", "--no-desktop"]) == 0
    assert "would write" in capsys.readouterr().out
    assert not (home / ".local").exists()


def test_exec_arguments_with_spaces_are_quoted() -> None:
    text = launcher.desktop_entry(["/opt/my env/bin/python", "-m", "ctp10_gui"], Path("/i.png"))
    assert 'Exec="/opt/my env/bin/python" -m ctp10_gui' in text


def test_windows_shortcuts_script_uses_wscript_shell_for_menu_and_desktop() -> None:
    script = launcher.windows_script([r"C:\Py\Scripts\ctp10-gui.exe"], Path(r"C:\r\icon.ico"))
    assert "New-Object -ComObject WScript.Shell" in script
    assert "SpecialFolders('Programs')" in script and "SpecialFolders('Desktop')" in script
    assert r"$link.TargetPath = 'C:\Py\Scripts\ctp10-gui.exe'" in script
    assert r"$link.IconLocation = 'C:\r\icon.ico'" in script
    assert script.count("$link.Save()") == 2
    quoted = launcher.windows_script([r"C:\it's\pythonw.exe", "-m", "ctp10_gui"], Path("i.ico"),
                                     desktop=False)
    assert r"'C:\it''s\pythonw.exe'" in quoted and "'-m ctp10_gui'" in quoted
    assert "Desktop" not in quoted


def test_no_desktop_folder_means_no_claim_about_the_desktop(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (home / "Desktop").rmdir()
    assert launcher.main([]) == 0
    out = capsys.readouterr().out
    assert "in the applications menu" in out
    assert "and on the desktop" not in out
    assert "No desktop folder was found, so nothing was put on the desktop." in out
    assert not any(home.rglob("Desktop"))


def test_install_names_the_desktop_only_when_it_wrote_there(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert launcher.main([]) == 0
    out = capsys.readouterr().out
    assert f"on the desktop ({home / 'Desktop' / 'ctp10-gui.desktop'})" in out
    assert launcher.main(["--no-desktop", "--uninstall"]) == 0
    assert "launcher removed (2 files)" in capsys.readouterr().out  # menu entry and icon
    assert launcher.main(["--uninstall"]) == 0
    assert "launcher removed (1 file)" in capsys.readouterr().out
    assert launcher.main(["--uninstall"]) == 0
    assert "nothing to remove" in capsys.readouterr().out


def fake_bundle(folder: Path) -> Path:
    """Return an executable named like the bundle's app in folder (what PyInstaller writes)."""
    folder.mkdir(parents=True)
    exe = folder / "ctp10-gui"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    return exe


def test_the_launcher_can_start_the_one_folder_bundle(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exe = fake_bundle(home / "apps" / "ctp 10" / "ctp10-gui")
    assert launcher.main(["--bundle", str(exe.parent)]) == 0
    entry = (home / ".local/share/applications/ctp10-gui.desktop").read_text()
    assert f'Exec="{exe}"' in entry
    assert f"It starts: '{exe}'" in capsys.readouterr().out
    assert launcher.launch_command(bundle=exe) == [str(exe)]


def test_a_folder_without_the_bundle_is_refused_with_a_sentence(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert launcher.main(["--bundle", str(home)]) == 1
    err = capsys.readouterr().err
    assert f"{home} holds no ctp10-gui" in err
    assert not (home / ".local").exists()


def test_inside_the_bundle_the_launcher_points_at_its_sibling_app(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exe = fake_bundle(tmp_path / "dist" / "ctp10-gui")
    monkeypatch.setattr(launcher.sys, "frozen", True, raising=False)
    monkeypatch.setattr(launcher.sys, "executable", str(exe.parent / "ctp10-install-launcher"))
    assert launcher.launch_command(windows=False) == [str(exe)]


def test_windows_uninstall_reports_only_what_it_removed() -> None:
    script = launcher.windows_uninstall_script()
    assert script.count("if (Test-Path $path) { Remove-Item $path") == 2
    assert "SilentlyContinue" not in script
