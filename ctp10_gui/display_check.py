"""Before Qt starts (Linux): is there a display, and do Qt's system libraries load? No Qt import."""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import os
import socket
import struct
import sys
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

# Debian/Ubuntu package of every system library the Qt libraries and the xcb platform plugin
# load (checked with ldd on PySide6-Essentials 6.11 in a bare Debian 12). The README's
# apt-get line is these packages plus a font and the audio library (a test holds them equal).
PACKAGE_OF_LIBRARY: dict[str, str] = {
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libdbus-1.so.3": "libdbus-1-3",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-glx.so.0": "libxcb-glx0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
}
# Qt draws no text without at least one font; the audio tone plays through PortAudio.
EXTRA_PACKAGES = ("fonts-dejavu-core", "libportaudio2")
README_HINT = "the README's apt-get line lists every package the app needs"
# Platforms that need no display server at all.
HEADLESS_PLATFORMS = {"offscreen", "minimal", "vnc", "linuxfb", "eglfs", "vkkhrdisplay"}
X_CONNECT_TIMEOUT_S = 1.0

_DT_NEEDED, _DT_STRTAB, _DT_RPATH, _DT_RUNPATH = 1, 5, 15, 29
_PT_LOAD, _PT_DYNAMIC = 1, 2


@dataclass
class ElfDependencies:
    """DT_NEEDED sonames and RUNPATH/RPATH folders ($ORIGIN expanded) of one ELF file."""

    needed: list[str] = field(default_factory=list)
    search_dirs: list[Path] = field(default_factory=list)


def read_elf_dependencies(path: Path) -> ElfDependencies:
    """Return the libraries an ELF shared object asks the loader for (ValueError if not ELF)."""
    with path.open("rb") as f:
        ident = f.read(16)
        if len(ident) < 16 or ident[:4] != b"\x7fELF":
            raise ValueError(f"{path} is not an ELF file")
        wide = ident[4] == 2
        end = "<" if ident[5] == 1 else ">"
        header = f.read(48 if wide else 36)
        if wide:
            phoff, = struct.unpack_from(end + "Q", header, 16)
            phentsize, phnum = struct.unpack_from(end + "HH", header, 38)
        else:
            phoff, = struct.unpack_from(end + "I", header, 12)
            phentsize, phnum = struct.unpack_from(end + "HH", header, 26)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
        loads: list[tuple[int, int, int]] = []  # (vaddr, offset, filesz)
        dynamic: tuple[int, int] | None = None  # (offset, size)
        for i in range(phnum):
            at = i * phentsize
            if wide:
                p_type, _flags, offset, vaddr, _paddr, filesz = struct.unpack_from(
                    end + "IIQQQQ", table, at)
            else:
                p_type, offset, vaddr, _paddr, filesz = struct.unpack_from(end + "IIIII", table, at)
            if p_type == _PT_LOAD:
                loads.append((vaddr, offset, filesz))
            elif p_type == _PT_DYNAMIC:
                dynamic = (offset, filesz)
        if dynamic is None:
            return ElfDependencies()
        f.seek(dynamic[0])
        raw = f.read(dynamic[1])
        entry = struct.Struct(end + ("qQ" if wide else "iI"))
        tags: list[tuple[int, int]] = []
        for at in range(0, len(raw) - entry.size + 1, entry.size):
            tag, value = entry.unpack_from(raw, at)
            if tag == 0:
                break
            tags.append((tag, value))
        strtab = next((v for t, v in tags if t == _DT_STRTAB), None)
        if strtab is None:
            return ElfDependencies()
        base = next((off + strtab - va for va, off, size in loads if va <= strtab < va + size),
                    strtab)

        def string(index: int) -> str:
            f.seek(base + index)
            chunk = f.read(256)
            return chunk.split(b"\0", 1)[0].decode("utf-8", "replace")

        deps = ElfDependencies()
        for tag, value in tags:
            if tag == _DT_NEEDED:
                deps.needed.append(string(value))
            elif tag in (_DT_RPATH, _DT_RUNPATH):
                for item in string(value).split(":"):
                    if item:
                        folder = item.replace("$ORIGIN", str(path.parent)).replace(
                            "${ORIGIN}", str(path.parent))
                        deps.search_dirs.append(Path(folder))
        return deps


def _system_library_loads(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def missing_libraries(roots: Iterable[Path], *, extra_dirs: Iterable[Path] = ()) -> list[str]:
    """Return the sonames that roots (and the bundled libraries they need) cannot load."""
    extra = list(extra_dirs)
    missing: list[str] = []
    seen: set[str] = set()
    pending = [p for p in roots if p.is_file()]
    visited: set[Path] = set()
    while pending:
        path = pending.pop()
        if path in visited:
            continue
        visited.add(path)
        try:
            deps = read_elf_dependencies(path)
        except (OSError, ValueError):
            continue
        for soname in deps.needed:
            if soname in seen:
                continue
            seen.add(soname)
            # A library shipped beside Qt (its RUNPATH, the bundle folder) is followed, so its
            # own system needs are checked too; anything else must come from the system.
            bundled = next((d / soname for d in [*deps.search_dirs, *extra]
                            if (d / soname).is_file()), None)
            if bundled is not None:
                pending.append(bundled)
            elif not _system_library_loads(soname):
                missing.append(soname)
    return sorted(missing)


def qt_folder() -> Path | None:
    """Return PySide6's Qt folder (libraries, plugins) without importing Qt, None if not found."""
    frozen = getattr(sys, "_MEIPASS", None)
    candidates = [Path(frozen) / "PySide6" / "Qt"] if frozen else []
    spec = importlib.util.find_spec("PySide6")
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidates.append(Path(location) / "Qt")
    return next((c for c in candidates if (c / "lib").is_dir()), None)


def _bundle_dirs() -> list[Path]:
    frozen = getattr(sys, "_MEIPASS", None)
    return [Path(frozen)] if frozen else []


def qt_core_problem(*, system: str = sys.platform) -> str | None:
    """Return a sentence naming the system libraries Qt's core needs and lacks, or None."""
    if not system.startswith("linux"):
        return None
    folder = qt_folder()
    if folder is None:
        return None
    roots = [folder / "lib" / f"libQt6{name}.so.6" for name in ("Core", "Gui", "Widgets")]
    missing = missing_libraries(roots, extra_dirs=_bundle_dirs())
    if not missing:
        return None
    return (f"ctp10-gui cannot start Qt: the system libraries {', '.join(missing)} are missing. "
            f"Install them with: {install_command(missing)} ({README_HINT}).")


def install_command(sonames: Iterable[str]) -> str:
    """Return the apt-get command that installs the packages providing sonames."""
    packages: list[str] = []
    for soname in sonames:
        package = PACKAGE_OF_LIBRARY.get(soname, f"<the package providing {soname}>")
        if package not in packages:
            packages.append(package)
    return "sudo apt-get install " + " ".join(packages)


def all_packages() -> list[str]:
    """Return every Debian/Ubuntu package the app needs, in install order."""
    return sorted(set(PACKAGE_OF_LIBRARY.values())) + list(EXTRA_PACKAGES)


def requested_platforms(env: Mapping[str, str]) -> list[str]:
    """Return the plugin names in QT_QPA_PLATFORM ("wayland;xcb" -> both; options dropped)."""
    value = env.get("QT_QPA_PLATFORM", "")
    return [item.split(":", 1)[0].strip() for item in value.split(";") if item.strip()]


def _x_socket_answers(display: str) -> bool:
    """Return True if an X server accepts a connection for display (":0", "host:10.0")."""
    host, _, number = display.rpartition(":")
    try:
        index = int(number.split(".", 1)[0])
    except ValueError:
        return False
    if host in ("", "unix") or host.startswith("/"):
        path = host if host.startswith("/") else f"/tmp/.X11-unix/X{index}"
        for address in (path, "\0" + path):  # filesystem socket, then the abstract one
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(X_CONNECT_TIMEOUT_S)
                try:
                    s.connect(address)
                except OSError:
                    continue
                return True
        return False
    try:
        with socket.create_connection((host, 6000 + index), timeout=X_CONNECT_TIMEOUT_S):
            return True
    except OSError:
        return False


def xcb_plugin(env: Mapping[str, str]) -> Path | None:
    """Return the xcb platform plugin Qt would load (QT_PLUGIN_PATH first), None if absent."""
    folders = [Path(p) for p in env.get("QT_PLUGIN_PATH", "").split(os.pathsep) if p]
    qt = qt_folder()
    if qt is not None:
        folders.append(qt / "plugins")
    return next((f / "platforms" / "libqxcb.so" for f in folders
                 if (f / "platforms" / "libqxcb.so").is_file()), None)


@dataclass
class DisplayVerdict:
    """What the start-up check found: a platform to use instead, and the problems (sentences)."""

    platform: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def message(self) -> str | None:
        """Return one plain paragraph for the user, None when the GUI can start."""
        return " ".join(self.problems) if self.problems else None


def check_display(env: Mapping[str, str], *, screenshot: bool = False,
                  system: str = sys.platform) -> DisplayVerdict:
    """Return whether Qt can open a window here (a screenshot without a display: offscreen)."""
    verdict = DisplayVerdict()
    if not system.startswith("linux"):
        return verdict  # Windows and macOS always have their one platform plugin
    names = requested_platforms(env)
    if names and names[0] in HEADLESS_PLATFORMS:
        return verdict
    wayland_allowed = not names or any(n.startswith("wayland") for n in names)
    xcb_allowed = not names or "xcb" in names
    if wayland_allowed and env.get("WAYLAND_DISPLAY") and (
            names or env.get("XDG_SESSION_TYPE") == "wayland" or not env.get("DISPLAY")):
        return verdict
    display = env.get("DISPLAY", "")
    if screenshot and not names and not display:
        verdict.platform = "offscreen"  # a picture needs no screen
        return verdict
    if not xcb_allowed:
        verdict.problems.append(
            f"ctp10-gui was asked for the {names[0]} platform (QT_QPA_PLATFORM), but no Wayland "
            "display is available (WAYLAND_DISPLAY is not set).")
        return verdict
    if not display:
        verdict.problems.append(
            "ctp10-gui needs a graphical desktop and found none: neither DISPLAY nor "
            "WAYLAND_DISPLAY is set (a login over ssh without -X, a service or a cron job). "
            "Start it from the desktop session or with `ssh -X`; for a picture without a "
            "screen use `ctp10-gui --simulate --screenshot out.png`.")
    elif not _x_socket_answers(display):
        verdict.problems.append(
            f"ctp10-gui cannot reach the X display {display!r} (DISPLAY): no X server answers "
            "there. Start it from the desktop session, or check the ssh X forwarding.")
    plugin = xcb_plugin(env)
    if plugin is not None:
        missing = missing_libraries([plugin], extra_dirs=_bundle_dirs())
        if missing:
            verdict.problems.append(
                f"Qt's xcb platform plugin cannot load: the system libraries "
                f"{', '.join(missing)} are missing. Install them with: "
                f"{install_command(missing)} ({README_HINT}).")
    return verdict


FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".pfb", ".pcf", ".pcf.gz", ".otb")


def font_folders(env: Mapping[str, str]) -> list[Path]:
    """Return the folders fontconfig reads fonts from by default on Linux."""
    home = Path(env.get("HOME", "~")).expanduser()
    data_home = Path(env.get("XDG_DATA_HOME") or home / ".local" / "share")
    return [Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), data_home / "fonts",
            home / ".fonts"]


def font_problem(env: Mapping[str, str], *, system: str = sys.platform) -> str | None:
    """Return a sentence when no font file exists (Qt then draws every letter as a box)."""
    if not system.startswith("linux"):
        return None
    for folder in font_folders(env):
        for _root, _dirs, files in os.walk(folder):
            if any(name.endswith(FONT_SUFFIXES) for name in files):
                return None
    return ("No fonts are installed, so every letter would show as an empty box: install one, "
            "e.g. sudo apt-get install fonts-dejavu-core.")


def prepare_platform(env: MutableMapping[str, str], *, screenshot: bool = False) -> str | None:
    """Check the display before the QApplication exists; return the problem, else None."""
    fonts = font_problem(env)
    if fonts is not None:  # readable numbers matter, but a bare kiosk may still want to start
        log.warning("%s", fonts)
        if sys.stderr is not None:
            print(f"ctp10-gui: {fonts}", file=sys.stderr)
    verdict = check_display(env, screenshot=screenshot)
    if verdict.message is None and verdict.platform is not None:
        log.info("no display: the %s platform is used for the screenshot", verdict.platform)
        env["QT_QPA_PLATFORM"] = verdict.platform
    return verdict.message
