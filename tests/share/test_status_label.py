"""The status bar names the stream server and its client count, in-process on the qasync loop."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import qasync
from PySide6.QtWidgets import QLabel
from websockets.asyncio.client import connect

from ctp10_gui.app import build


def test_status_bar_shows_address_and_clients(qtbot: Any, tmp_path: Path,
                                              monkeypatch: Any) -> None:
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    ctx = build(["--settings", str(tmp_path / "s.json")])
    loop = qasync.QEventLoop(ctx.app)
    asyncio.set_event_loop(loop)
    try:
        ctx.window.sharing.start_blocking(loop, "127.0.0.1", 0)
        server = ctx.window.sharing.server
        assert server is not None
        labels = [w for w in ctx.window.statusBar().findChildren(QLabel)
                  if w.text().startswith("Serving on")]
        assert [w.text() for w in labels] == [f"Serving on 127.0.0.1:{server.port} · 0 clients"]

        async def one_client() -> tuple[str, dict[str, Any]]:
            async with connect(f"ws://127.0.0.1:{server.port}/ws/health") as ws:
                first = json.loads(await ws.recv())
                return labels[0].text(), first

        text, first = loop.run_until_complete(one_client())
        assert text == f"Serving on 127.0.0.1:{server.port} · 1 client"
        assert first["type"] == "heartbeat"
        loop.run_until_complete(ctx.window.sharing.stop())
        assert all(w.isHidden() for w in labels)
    finally:
        loop.close()
        asyncio.set_event_loop(None)
        ctx.shutdown()


def test_a_bad_serve_address_is_a_sentence(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ctp10_gui", "--serve", "70000", "--settings",
         str(tmp_path / "s.json")],
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen",
             "XDG_STATE_HOME": str(tmp_path)},
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "--serve port must be 0–65535, got 70000" in result.stderr
