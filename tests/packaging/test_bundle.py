"""The one-folder bundle: built from packaging/ctp10-gui.spec, it runs without Python or venv."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "packaging" / "ctp10-gui.spec"
APP = "ctp10-gui.exe" if sys.platform == "win32" else "ctp10-gui"
INSTALLER = "ctp10-install-launcher.exe" if sys.platform == "win32" else "ctp10-install-launcher"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(900),  # PyInstaller takes 1-2 min on 2 cores
    pytest.mark.skipif(importlib.util.find_spec("PyInstaller") is None,
                       reason="PyInstaller is not installed (pip install -e '.[bundle]')"),
]


def no_python_env(home: Path) -> dict[str, str]:
    """Return an environment without the venv, PYTHONPATH or a display: a lab PC's."""
    venv_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                           if p and p != venv_bin)
    env = {"PATH": path, "HOME": str(home), "QT_QPA_PLATFORM": "offscreen",
           "XDG_CONFIG_HOME": str(home / "cfg"), "XDG_STATE_HOME": str(home / "state"),
           "XDG_DATA_HOME": str(home / "data"), "LANG": "C.UTF-8"}
    if sys.platform == "win32":
        env["SYSTEMROOT"] = os.environ.get("SYSTEMROOT", r"C:\Windows")
    return env


def test_the_bundle_builds_and_runs_from_another_folder(tmp_path: Path) -> None:
    dist, work = tmp_path / "dist", tmp_path / "build"
    build = subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--distpath", str(dist),
         "--workpath", str(work), str(SPEC)],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
        text=True, timeout=850, check=False)
    assert build.returncode == 0, build.stderr[-3000:]
    folder = dist / "ctp10-gui"
    app, installer = folder / APP, folder / INSTALLER
    assert app.is_file() and installer.is_file()
    resources = folder / "_internal" / "ctp10_gui" / "resources"
    assert (resources / "dark.qss").is_file() and (resources / "__init__.py").is_file()
    internal = folder / "_internal"
    # pyvisa-py itself sits in the archive: the live screenshot below proves it loads ("@py").
    assert list(internal.glob("pyvisa_py-*.dist-info")), "pyvisa-py metadata missing"
    assert not list(internal.rglob("*QtNetwork*")), "unused Qt module bundled"
    assert not list(internal.rglob("libqgtk3*")), "GTK platform theme bundled"

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = no_python_env(elsewhere)
    shot = elsewhere / "out.png"
    run = subprocess.run([str(app), "--simulate", "--screenshot", "out.png"], cwd=elsewhere,
                         env=env, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    log = next((elsewhere / "state").rglob("ctp10-gui.log")).read_text(encoding="utf-8")
    assert "screenshot saved" in log and "style sheet" not in log  # resources were found

    if sys.platform.startswith("linux"):
        dry = subprocess.run([str(installer), "--dry-run"], cwd=elsewhere, env=env,
                             capture_output=True, text=True, timeout=60, check=False)
        assert dry.returncode == 0, dry.stderr[-2000:]
        assert "applications/ctp10-gui.desktop" in dry.stdout
        written = subprocess.run([str(installer), "--no-desktop"], cwd=elsewhere, env=env,
                                 capture_output=True, text=True, timeout=60, check=False)
        assert written.returncode == 0, written.stderr[-2000:]
        entry = (elsewhere / "data" / "applications" / "ctp10-gui.desktop").read_text()
        assert f"Exec={app}" in entry
