"""The layering rules of the package: what may import what."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import ctp10_gui

PACKAGE_ROOT = Path(ctp10_gui.__file__).parent
QT_FREE_LAYERS = ("hardware", "models", "simulator", "procedures", "audio")
FORBIDDEN_ROOTS = {"PySide6", "pyqtgraph", "shiboken6", "qasync"}
FORBIDDEN_INTERNAL = {"ctp10_gui.views", "ctp10_gui.link", "ctp10_gui.app"}


def _imported_names(path: Path) -> set[str]:
    """Return the absolute module names path imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ("ctp10_gui", *path.parent.relative_to(PACKAGE_ROOT).parts)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1])
            names.add(f"{base}.{node.module}" if node.module else base)
    return names


def test_qt_free_layers_import_no_qt_and_no_upper_layer() -> None:
    offenders: list[str] = []
    for layer in QT_FREE_LAYERS:
        for path in sorted((PACKAGE_ROOT / layer).rglob("*.py")):
            for name in _imported_names(path):
                root = name.split(".")[0]
                internal = any(name == f or name.startswith(f + ".") for f in FORBIDDEN_INTERNAL)
                if root in FORBIDDEN_ROOTS or internal:
                    offenders.append(f"{path.relative_to(PACKAGE_ROOT)} imports {name}")
    assert offenders == []


def test_every_module_imports() -> None:
    """Catch a module that only breaks when somebody finally imports it."""
    for info in pkgutil.walk_packages([str(PACKAGE_ROOT)], prefix="ctp10_gui."):
        if info.name.endswith("__main__"):
            continue  # running it would start the program
        importlib.import_module(info.name)


def test_scpi_traffic_is_logged_only_by_the_transports() -> None:
    """Keep one place that logs SCPI: the real and the replay transport."""
    allowed = {Path("hardware/transport.py"), Path("hardware/replay.py")}
    users = {
        path.relative_to(PACKAGE_ROOT)
        for path in PACKAGE_ROOT.rglob("*.py")
        if '"ctp10_gui.scpi"' in path.read_text(encoding="utf-8")
    }
    assert users <= allowed, f"SCPI logged outside the transports: {sorted(users - allowed)}"


def test_simulator_and_driver_share_no_code() -> None:
    """The simulator is an independent oracle: it imports only itself; the driver never it."""
    offenders: list[str] = []
    for path in sorted((PACKAGE_ROOT / "simulator").rglob("*.py")):
        for name in _imported_names(path):
            if name.startswith("ctp10_gui") and not name.startswith("ctp10_gui.simulator"):
                offenders.append(f"{path.relative_to(PACKAGE_ROOT)} imports {name}")
    for path in sorted((PACKAGE_ROOT / "hardware").rglob("*.py")):
        for name in _imported_names(path):
            if name.startswith("ctp10_gui.simulator"):
                offenders.append(f"{path.relative_to(PACKAGE_ROOT)} imports {name}")
    assert offenders == []
