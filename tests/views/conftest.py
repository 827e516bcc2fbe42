"""Main-window rigs for the view tests: real controller, worker and in-process simulator."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication, QWidget

from ctp10_gui.app import BuiltinSimulator
from ctp10_gui.link.controller import LinkController
from ctp10_gui.models.connection import AcquisitionSettings, BackoffPolicy, LinkState
from ctp10_gui.models.settings import AppSettings, SettingsStore
from ctp10_gui.simulator import SimulatorServer
from ctp10_gui.views.main_window import MainWindow
from ctp10_gui.views.theme import apply_theme

# Quick but visible: a 1 s first wait so the countdown can be seen, three attempts.
VIEW_BACKOFF = BackoffPolicy(initial_s=1.0, factor=2.0, cap_s=4.0, jitter=0.0, max_attempts=3)


@dataclass
class Rig:
    """One main window wired to a real controller and an in-process simulator."""

    window: MainWindow
    controller: LinkController
    sim: SimulatorServer
    store: SettingsStore
    settings: AppSettings
    closed_in_s: float | None = None

    @property
    def state(self) -> LinkState:
        """Return the link state now."""
        return self.controller.status.state

    def close(self) -> float:
        """Close the window (saves, shuts the link down); return how long it took (s)."""
        if self.closed_in_s is None:
            t0 = time.monotonic()
            self.window.close()
            self.closed_in_s = time.monotonic() - t0
        return self.closed_in_s


@pytest.fixture
def screens_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return where state screenshots go: $CTP10_SCREENS or a pytest tmp dir (never the repo)."""
    folder = os.environ.get("CTP10_SCREENS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screens")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def shoot(screens_dir: Path) -> Callable[[QWidget, str], Path]:
    """Return shoot(widget, name): save a PNG of widget and return its path."""

    def save(widget: QWidget, name: str) -> Path:
        QApplication.processEvents()
        path = screens_dir / f"{name}.png"
        assert widget.grab().save(str(path), "PNG"), f"screenshot {path} not written"
        return path

    return save


@pytest.fixture
def make_rig(qtbot: Any, qapp: QApplication, sim_factory: Callable[..., SimulatorServer],
             tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    """Return make_rig(**acquisition overrides, sim=..., settings_path=..., options) -> Rig."""
    made: list[Rig] = []
    apply_theme(qapp, "dark")

    def make(*, sim: SimulatorServer | None = None, settings_path: Path | None = None,
             sim_options: dict[str, Any] | None = None, settings: AppSettings | None = None,
             **acq: Any) -> Rig:
        server = sim or sim_factory(**{"drift": False, "noise_db": 0.0, **(sim_options or {})})
        store = SettingsStore(settings_path or tmp_path / "settings.json")
        if settings is None and not store.path.exists():
            # A 10 s window so the few seconds a test runs fill the chart in the screenshots.
            settings = AppSettings(window_s=10.0)
        app_settings = settings or store.load()
        params: dict[str, Any] = {
            "module": app_settings.module, "channels": tuple(app_settings.channels),
            "interval_s": app_settings.poll_interval_s, "live": app_settings.live,
            "backoff": VIEW_BACKOFF, "reply_deadline_s": 1.0, "open_timeout_s": 1.0,
        }
        params.update(acq)
        controller = LinkController(AcquisitionSettings(**params))
        window = MainWindow(controller, app_settings, store,
                            simulator=BuiltinSimulator(server=server))
        window.closed.connect(controller.shutdown)  # as the app wires it
        qtbot.addWidget(window)
        window.resize(1280, 860)
        window.show()
        qtbot.waitExposed(window)
        rig = Rig(window, controller, server, store, app_settings)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        rig.close()
