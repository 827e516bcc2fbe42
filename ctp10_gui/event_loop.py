"""The app's main loop: Qt's event loop as the asyncio loop (qasync), with the stream server."""

from __future__ import annotations

import asyncio
import logging

import qasync
from PySide6.QtWidgets import QApplication

from ctp10_gui.views.main_window import MainWindow

log = logging.getLogger(__name__)


def run_event_loop(app: QApplication, window: MainWindow,
                   serve: tuple[str, int] | None) -> int:
    """Run until the app quits, serving the stream on serve=(host, port); return the exit code."""
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        if serve is not None:
            try:
                window.sharing.start_blocking(loop, *serve)
            except OSError as exc:
                message = f"ctp10-gui: cannot serve on {serve[0]}:{serve[1]}: {exc}"
                log.error("%s", message)
                window.show_message("Stream not served", message)
        return int(loop.run_forever())
    finally:
        if window.sharing.server is not None:
            loop.run_until_complete(window.sharing.stop())
        # Closed while the QApplication lives: a loop collected later touches deleted Qt objects.
        loop.close()
        asyncio.set_event_loop(None)
