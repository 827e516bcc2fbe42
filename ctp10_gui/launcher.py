"""Install a double-click launcher: a Linux .desktop entry, or Windows Start-menu/desktop shortcuts.

Run once after installing the package: ``ctp10-install-launcher`` (``--uninstall`` removes it,
``--dry-run`` only prints what would be done). For the one-folder bundle (no Python on the PC),
run the ``ctp10-install-launcher`` inside the bundle folder, or ``--bundle FOLDER`` from a venv.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

log = logging.getLogger(__name__)

APP_ID = "ctp10-gui"
APP_NAME = "CTP10 Live Power"
DESKTOP_FILE = f"{APP_ID}.desktop"
ICON_FILE = f"{APP_ID}.png"
SHORTCUT_FILE = f"{APP_NAME}.lnk"
POWERSHELL_TIMEOUT_S = 30.0


@dataclass
class Plan:
    """What an installation writes (or removes): files and the commands it runs."""

    files: dict[Path, str | bytes] = field(default_factory=dict)
    executable: set[Path] = field(default_factory=set)
    commands: list[list[str]] = field(default_factory=list)


def bundle_executable(folder: Path, *, windows: bool | None = None) -> Path:
    """Return the app executable in a bundle folder (or the executable); ValueError if none."""
    windows = sys.platform == "win32" if windows is None else windows
    name = "ctp10-gui.exe" if windows else "ctp10-gui"
    for candidate in (folder, folder / name):
        if candidate.is_file() and candidate.name == name:
            return candidate.resolve()
    raise ValueError(f"{folder} holds no {name}: give the bundle folder (dist/ctp10-gui) "
                     "or its executable")


def launch_command(*, windows: bool | None = None, bundle: Path | None = None) -> list[str]:
    """Return the command that starts the app: the bundle's, the ctp10-gui script, or python -m."""
    windows = sys.platform == "win32" if windows is None else windows
    if bundle is not None:
        return [str(bundle_executable(bundle, windows=windows))]
    if getattr(sys, "frozen", False):
        # Run from inside the bundle: the app executable sits beside this one.
        return [str(bundle_executable(Path(sys.executable).parent, windows=windows))]
    bindir = Path(sys.executable).parent
    # On Windows the gui-script (no console window) is Scripts\\ctp10-gui.exe.
    names = ["ctp10-gui.exe"] if windows else ["ctp10-gui"]
    for folder in (bindir, bindir / "Scripts"):
        for name in names:
            candidate = folder / name
            if candidate.is_file():
                return [str(candidate)]
    found = shutil.which("ctp10-gui")
    if found:
        return [found]
    python = Path(sys.executable)
    if windows:
        pythonw = python.with_name("pythonw.exe")
        python = pythonw if pythonw.is_file() else python
    return [str(python), "-m", "ctp10_gui"]


def _desktop_quote(arg: str) -> str:
    """Quote one Exec argument per the Desktop Entry spec (reserved characters in quotes)."""
    if arg and not any(c in arg for c in ' \t\n"\'\\><~|&;$*?#()`%'):
        return arg
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`").replace("$", "\\$")
    return f'"{escaped}"'.replace("%", "%%")


def desktop_entry(command: Sequence[str], icon: Path) -> str:
    """Return the .desktop file text for command and an absolute icon path."""
    template = resources.files("ctp10_gui.resources").joinpath("ctp10-gui.desktop")
    text = template.read_text(encoding="utf-8")
    return text.replace("{exec}", " ".join(_desktop_quote(a) for a in command)).replace(
        "{icon}", str(icon))


def _xdg_data_home(home: Path) -> Path:
    value = os.environ.get("XDG_DATA_HOME", "")
    return Path(value) if value and Path(value).is_absolute() else home / ".local" / "share"


def _xdg_desktop_dir(home: Path) -> Path | None:
    """Return the user's desktop folder if it exists (xdg-user-dir knows localised names)."""
    tool = shutil.which("xdg-user-dir")
    if tool:
        try:
            out = subprocess.run([tool, "DESKTOP"], capture_output=True, text=True, timeout=5,
                                 check=False).stdout.strip()
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("xdg-user-dir failed: %s", exc)
            out = ""
        # xdg-user-dir answers $HOME itself when no desktop folder is configured.
        if out and Path(out) != home and Path(out).is_dir():
            return Path(out)
    fallback = home / "Desktop"
    return fallback if fallback.is_dir() else None


def linux_plan(home: Path, *, desktop: bool = True,
               command: Sequence[str] | None = None) -> Plan:
    """Return the files of the Linux launcher (menu entry, icon, desktop copy) under home."""
    data = _xdg_data_home(home)
    icon = data / "icons" / "hicolor" / "256x256" / "apps" / ICON_FILE
    icon_bytes = resources.files("ctp10_gui.resources").joinpath("icon.png").read_bytes()
    entry = desktop_entry(command or launch_command(windows=False), icon)
    plan = Plan()
    plan.files[icon] = icon_bytes
    menu = data / "applications" / DESKTOP_FILE
    plan.files[menu] = entry
    plan.executable.add(menu)
    if shutil.which("update-desktop-database"):
        plan.commands.append(["update-desktop-database", str(menu.parent)])
    if desktop:
        folder = _xdg_desktop_dir(home)
        if folder is not None:
            on_desktop = folder / DESKTOP_FILE
            plan.files[on_desktop] = entry
            plan.executable.add(on_desktop)
            if shutil.which("gio"):
                # GNOME shows an untrusted launcher as a text file until this is set.
                plan.commands.append(["gio", "set", str(on_desktop), "metadata::trusted", "true"])
    return plan


def _ps_quote(text: str) -> str:
    """Quote text as a PowerShell single-quoted string."""
    return "'" + text.replace("'", "''") + "'"


def windows_script(command: Sequence[str], icon: Path, *, desktop: bool = True) -> str:
    """Return the PowerShell that creates the Start-menu (and desktop) shortcuts."""
    target, args = command[0], subprocess.list2cmdline(list(command[1:]))
    folders = ["Programs", "Desktop"] if desktop else ["Programs"]
    lines = ["$ErrorActionPreference = 'Stop'", "$shell = New-Object -ComObject WScript.Shell"]
    for special in folders:
        lines += [
            f"$path = Join-Path $shell.SpecialFolders({_ps_quote(special)}) "
            f"{_ps_quote(SHORTCUT_FILE)}",
            "$link = $shell.CreateShortcut($path)",
            f"$link.TargetPath = {_ps_quote(target)}",
            f"$link.Arguments = {_ps_quote(args)}",
            f"$link.IconLocation = {_ps_quote(str(icon))}",
            f"$link.WorkingDirectory = {_ps_quote(str(Path.home()))}",
            f"$link.Description = {_ps_quote('Live optical power for the EXFO CTP10')}",
            "$link.Save()",
            "Write-Output $path",
        ]
    return "\n".join(lines)


def windows_uninstall_script(*, desktop: bool = True) -> str:
    """Return the PowerShell that removes the shortcuts."""
    lines = ["$shell = New-Object -ComObject WScript.Shell"]
    for special in ["Programs", "Desktop"] if desktop else ["Programs"]:
        lines += [f"$path = Join-Path $shell.SpecialFolders({_ps_quote(special)}) "
                  f"{_ps_quote(SHORTCUT_FILE)}",
                  "if (Test-Path $path) { Remove-Item $path; Write-Output \"removed $path\" }"]
    return "\n".join(lines)


def _run(command: list[str]) -> bool:
    try:
        result = subprocess.run(command, capture_output=True, text=True,
                                timeout=POWERSHELL_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("%s failed: %s", command[0], exc)
        print(f"warning: {shlex.join(command[:3])}… failed: {exc}", file=sys.stderr)
        return False
    if result.returncode != 0:
        print(f"warning: {shlex.join(command[:3])}… exited {result.returncode}: "
              f"{result.stderr.strip()}", file=sys.stderr)
        return False
    if result.stdout.strip():
        print(result.stdout.strip())
    return True


def desktop_copy(plan: Plan) -> Path | None:
    """Return the launcher the plan puts on the desktop, None if it puts none there."""
    return next((p for p in plan.files if p.name == DESKTOP_FILE
                 and p.parent.name != "applications"), None)


def install_summary(plan: Plan, *, desktop_asked: bool) -> str:
    """Return what an applied plan did, in one or two sentences that say only what is true."""
    menu = next((p for p in plan.files if p.parent.name == "applications"), None)
    where = [f"the applications menu ({menu})"] if menu is not None else []
    on_desktop = desktop_copy(plan)
    if on_desktop is not None:
        where.append(f"on the desktop ({on_desktop})")
    text = f"{APP_NAME} is in " + " and ".join(where) + "."
    if desktop_asked and on_desktop is None:
        text += " No desktop folder was found, so nothing was put on the desktop."
    return text


def apply_plan(plan: Plan, *, dry_run: bool = False) -> None:
    """Write the plan's files (mode 755 where executable) and run its commands."""
    for path, content in plan.files.items():
        print(f"{'would write' if dry_run else 'writing'} {path}")
        if dry_run:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        if path in plan.executable:
            path.chmod(0o755)
    for command in plan.commands:
        print(f"{'would run' if dry_run else 'running'} {shlex.join(command)}")
        if not dry_run:
            _run(command)


def remove_plan(plan: Plan, *, dry_run: bool = False) -> int:
    """Delete the plan's files that exist; return how many there were."""
    found = 0
    for path in plan.files:
        if path.exists():
            found += 1
            print(f"{'would remove' if dry_run else 'removing'} {path}")
            if not dry_run:
                path.unlink()
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Install (or remove) the launcher for this user; return 0 on success, 1 on failure."""
    parser = argparse.ArgumentParser(
        prog="ctp10-install-launcher",
        description=f"Add {APP_NAME} to the applications menu and the desktop.")
    parser.add_argument("--no-desktop", action="store_true", help="menu entry only")
    parser.add_argument("--uninstall", action="store_true", help="remove the launcher")
    parser.add_argument("--dry-run", action="store_true", help="print, change nothing")
    parser.add_argument("--bundle", metavar="FOLDER", type=Path,
                        help="start the one-folder bundle in FOLDER (dist/ctp10-gui) instead of "
                             "this Python installation")
    args = parser.parse_args(list(argv) if argv is not None else None)
    desktop = not args.no_desktop
    if sys.platform == "darwin":
        print(f"On macOS there is no launcher to install: drag {APP_NAME}.app (dist/) into "
              "Applications, or run ctp10-gui from a terminal.", file=sys.stderr)
        return 1
    try:
        command = None if args.uninstall else launch_command(bundle=args.bundle)
    except ValueError as exc:
        print(f"ctp10-install-launcher: {exc}", file=sys.stderr)
        return 1
    if sys.platform == "win32":
        icon = Path(str(resources.files("ctp10_gui.resources").joinpath("icon.ico")))
        script = (windows_uninstall_script(desktop=desktop) if command is None
                  else windows_script(command, icon, desktop=desktop))
        if args.dry_run:
            print(script)
            print("Nothing was changed (dry run).")
            return 0
        ok = _run(["powershell", "-NoProfile", "-ExecutionPolicy", "Bypass", "-Command", script])
        if ok and command is not None:
            places = "the Start menu and the desktop" if desktop else "the Start menu"
            print(f"{APP_NAME} is in {places}; it starts {subprocess.list2cmdline(command)}")
        elif not ok:
            print("Nothing was confirmed by PowerShell: see the warning above.", file=sys.stderr)
        return 0 if ok else 1
    plan = linux_plan(Path.home(), desktop=desktop, command=command)
    try:
        if args.uninstall:
            found = remove_plan(plan, dry_run=args.dry_run)
            if not found:
                print(f"No {APP_NAME} launcher was installed for this user: nothing to remove.")
            elif not args.dry_run:
                print(f"{APP_NAME} launcher removed ({found} file{'s' if found != 1 else ''}).")
        else:
            apply_plan(plan, dry_run=args.dry_run)
            if not args.dry_run:
                print(install_summary(plan, desktop_asked=desktop))
                print(f"It starts: {shlex.join(command or [])}")
    except OSError as exc:
        print(f"ctp10-install-launcher: {exc}", file=sys.stderr)
        return 1
    if args.dry_run:
        print("Nothing was changed (dry run).")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
