"""The stream server inside the real window (offscreen, built-in simulator, qasync loop)."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import qasync
from websockets.asyncio.client import ClientConnection, connect

from ctp10_gui.app import AppContext, build
from ctp10_gui.hardware.ctp10 import ReferenceResult
from ctp10_gui.models.connection import LinkState

WAIT_S = 15.0


@pytest.fixture
def served(qtbot: Any, tmp_path: Path,
           monkeypatch: Any) -> Iterator[tuple[AppContext, qasync.QEventLoop]]:
    """The app on the built-in simulator with a 50 ms poll interval, its loop not yet serving."""
    # qtbot: the conftest then keeps cycles from being collected in the app's other threads.
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    settings = tmp_path / "s.json"
    settings.write_text(json.dumps({"poll_interval_s": 0.05, "stream_port": 0}))
    ctx = build(["--simulate", "--settings", str(settings)])
    ctx.window.show()
    ctx.window.connect_simulator(remember=False)
    loop = qasync.QEventLoop(ctx.app)
    asyncio.set_event_loop(loop)
    try:
        yield ctx, loop
    finally:
        if ctx.window.sharing.server is not None:
            loop.run_until_complete(ctx.window.sharing.stop())
        loop.close()
        asyncio.set_event_loop(None)
        ctx.shutdown()


async def until(condition: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
    """Let the loop run until condition() holds (AssertionError after timeout_s)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def frame_where(ws: ClientConnection, match: Callable[[dict[str, Any]], bool],
                      timeout_s: float = WAIT_S) -> dict[str, Any]:
    """Return the first frame that matches."""
    deadline = time.monotonic() + timeout_s
    while True:
        frame: dict[str, Any] = json.loads(
            await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
        if match(frame):
            return frame


def test_menu_toggle_serves_on_the_remembered_port_and_lists_clients(
        served: tuple[AppContext, qasync.QEventLoop]) -> None:
    ctx, loop = served
    sharing = ctx.window.sharing
    assert sharing.serve_action in ctx.window.menus.file_menu.actions()
    assert ctx.window.health.clients_label.text() == "Stream clients: not serving"

    async def scenario() -> None:
        sharing.serve_action.setChecked(True)
        await until(lambda: not sharing.status_label.isHidden())  # bound and shown
        server = sharing.server
        assert server is not None and server.host == "127.0.0.1"
        assert sharing.status_label.text() == f"Serving on 127.0.0.1:{server.port} · 0 clients"
        async with connect(f"ws://127.0.0.1:{server.port}/ws/power?interval=0.1") as ws:
            await frame_where(ws, lambda f: f["type"] == "data")
            sharing._show_clients()  # the panel's 1 s refresh, without waiting for it
            tree = ctx.window.health.client_list
            assert tree.topLevelItemCount() == 1
            row = tree.topLevelItem(0)
            assert row is not None
            assert row.text(0).startswith("127.0.0.1:") and row.text(1) == "/ws/power"
            assert int(row.text(3)) >= 1 and row.text(4) == "0"
            assert sharing.status_label.text().endswith("· 1 client")
        sharing.serve_action.setChecked(False)
        await until(lambda: not sharing.serving)

    loop.run_until_complete(scenario())
    assert sharing.status_label.isHidden()
    assert ctx.window.health.clients_label.text() == "Stream clients: not serving"


def test_a_faster_client_raises_the_acquisition_rate_until_it_leaves(
        served: tuple[AppContext, qasync.QEventLoop]) -> None:
    ctx, loop = served
    sharing = ctx.window.sharing
    sharing.start_blocking(loop, "127.0.0.1", 0)
    server = sharing.server
    assert server is not None
    link = ctx.controller

    async def scenario() -> None:
        await until(lambda: link.status.state is LinkState.LIVE)
        assert link.settings.interval_s == pytest.approx(0.05)
        url = f"ws://127.0.0.1:{server.port}/ws/power"
        async with connect(f"{url}?interval=0.2"):  # slower than the GUI: no change
            await until(lambda: len(server.clients) == 1)
            assert link.settings.interval_s == pytest.approx(0.05)
            assert sharing.rate_label.isHidden()
            async with connect(f"{url}?interval=0.01") as fast:
                await until(lambda: link.settings.interval_s == pytest.approx(0.01))
                assert not sharing.rate_label.isHidden()
                assert sharing.rate_label.text().startswith("100 Hz for a stream client")
                # The chart's history and staleness follow the rate the data comes at.
                assert ctx.window.live_history.poll_interval_s == pytest.approx(0.01)
                first = await frame_where(fast, lambda f: f["type"] == "data")
                later = await frame_where(
                    fast, lambda f: f["type"] == "data" and f["seq"] >= first["seq"] + 50)
                assert later["timestamp"] - first["timestamp"] < 50 * 0.05  # faster than 20 Hz
            await until(lambda: link.settings.interval_s == pytest.approx(0.05))
            assert sharing.rate_label.isHidden()
            assert ctx.window.live_history.poll_interval_s == pytest.approx(0.05)
        async with connect(f"{url}?module=7&interval=0.01") as other:
            error = await frame_where(other, lambda f: f["type"] == "error")
            assert "module 7 is not being acquired" in error["message"]
            assert link.settings.interval_s == pytest.approx(0.05)  # not for another module

    loop.run_until_complete(scenario())


def test_data_frames_carry_the_detector_wavelength_the_app_read(
        served: tuple[AppContext, qasync.QEventLoop]) -> None:
    ctx, loop = served
    sharing = ctx.window.sharing
    sharing.start_blocking(loop, "127.0.0.1", 0)
    server = sharing.server
    assert server is not None

    async def scenario() -> dict[str, Any]:
        await until(lambda: 1 in ctx.window.hub.wavelengths)
        async with connect(f"ws://127.0.0.1:{server.port}/ws/power") as ws:
            frame = await frame_where(ws, lambda f: f["type"] == "data")
        async with connect(f"ws://127.0.0.1:{server.port}/ws/power/batch") as ws:
            batch = await frame_where(ws, lambda f: f["type"] == "batch")
        assert batch["wavelength_nm"] == frame["wavelength_nm"]
        return frame

    frame = loop.run_until_complete(scenario())
    assert math.isclose(frame["wavelength_nm"], ctx.window.hub.wavelengths[1])
    # A wavelength read back later (the user applied another) is in the next frames.
    ctx.window.live_controls.wavelengths_read.emit({1: 1310.5, 2: 1310.5})

    async def after() -> dict[str, Any]:
        async with connect(f"ws://127.0.0.1:{server.port}/ws/power") as ws:
            return await frame_where(ws, lambda f: f["type"] == "data")

    assert loop.run_until_complete(after())["wavelength_nm"] == 1310.5


def test_events_carry_sweeps_references_and_recordings(
        served: tuple[AppContext, qasync.QEventLoop], tmp_path: Path) -> None:
    ctx, loop = served
    w = ctx.window
    w.sharing.start_blocking(loop, "127.0.0.1", 0)
    server = w.sharing.server
    assert server is not None

    async def scenario() -> list[dict[str, Any]]:
        async with connect(f"ws://127.0.0.1:{server.port}/ws/events") as ws:
            await frame_where(ws, lambda f: f["type"] == "heartbeat")
            w.sweep.sweep_started.emit()
            w.sweep.progress.setValue(500)
            w.sweep.sweep_finished.emit("completed", "sweep done in 3.2 s")
            w.sweep.references_updated.emit(
                [(4, 1, ReferenceResult(1, 0, None, "1,0"))])
            assert w.recording.start_recording(tmp_path / "rec")
            w.recording.stop_recording()
            kinds: list[dict[str, Any]] = []
            while not any(f.get("kind") == "recording" and f["recording"] is False
                          for f in kinds):
                kinds.append(await frame_where(ws, lambda f: f["type"] == "event"))
            return kinds

    events = loop.run_until_complete(scenario())
    by_kind = {f["kind"]: f for f in events}
    assert by_kind["sweep_started"]["text"] == "sweep started"
    assert by_kind["sweep_progress"]["fraction"] == pytest.approx(0.5)
    assert by_kind["sweep_finished"]["outcome"] == "completed"
    assert by_kind["references"]["references"] == [
        {"module": 4, "channel": 1, "state": 1, "type": 0, "taken": None}]
    recording = [f["recording"] for f in events if f["kind"] == "recording"]
    assert recording == [True, False]
