"""Trace export/open dialogs start in the folders used last; exports carry the instrument state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtWidgets import QFileDialog

from ctp10_gui.hardware.ctp10 import Trace, TraceType
from ctp10_gui.link.controller import LinkController
from ctp10_gui.models.settings import AppSettings
from ctp10_gui.models.traces import TraceStore, sidecar_path
from ctp10_gui.views.trace_view import TraceView

STATE = {"module": 4, "sweep": {"start_nm": 1530.0, "stop_nm": 1570.0},
         "detectors": {"1": {"wavelength_nm": 1550.0, "power_unit": "DBM"}}}


@pytest.fixture
def controller() -> Iterator[LinkController]:
    ctl = LinkController()
    yield ctl
    ctl.shutdown()


def trace() -> Trace:
    x = np.linspace(1530.0, 1570.0, 401)
    return Trace(4, 1, TraceType.TF_LIVE, x, -3.0 - 0.01 * (x - 1550.0) ** 2, 1530.0, 100.0, "dB")


def test_dialogs_start_where_the_last_export_and_open_went(
        qtbot: Any, controller: LinkController, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    store = TraceStore()
    store.set_instrument_state(STATE)
    view = TraceView(store, controller)
    qtbot.addWidget(view)
    settings = AppSettings()
    saves: list[int] = []
    view.files.remember_folders_in(settings, persist=lambda: saves.append(1))
    store.add_trace(trace())
    view.trace_list.selectAll()
    starts: list[str] = []
    target = tmp_path / "exports" / "ring.csv"
    target.parent.mkdir()

    def save_name(parent, caption, start, filters, *args):
        starts.append(start)
        return str(target), filters.split(";;")[0]

    def open_names(parent, caption, start, filters, *args):
        starts.append(start)
        return [str(target)], ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(save_name))
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(open_names))
    view.export_dialog()
    qtbot.waitUntil(lambda: target.exists() and not view.files.busy, timeout=5000)
    view.export_dialog()
    qtbot.waitUntil(lambda: not view.files.busy, timeout=5000)
    view.open_dialog()
    qtbot.waitUntil(lambda: len(store) == 2 and not view.files.busy, timeout=5000)
    view.open_dialog()
    qtbot.waitUntil(lambda: len(store) == 3 and not view.files.busy, timeout=5000)
    assert starts == ["trace.csv", str(tmp_path / "exports" / "trace.csv"), "",
                      str(tmp_path / "exports")]
    assert settings.trace_export_dir == settings.trace_open_dir == str(tmp_path / "exports")
    assert saves
    # The export says what the instrument was set to, in the sidecar and in the CSV header.
    side = json.loads(sidecar_path(target).read_text())
    assert side["instrument_state"] == STATE
    assert store.traces[-1].metadata["instrument_state"] == STATE
