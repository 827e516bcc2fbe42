"""The app's main loop: Qt's event loop as the asyncio loop (qasync), with the stream server."""

from __future__ import annotations

import asyncio
import logging
import sys

import qasync
from PySide6.QtWidgets import QApplication, QLabel

from ctp10_gui.link.port import LinkPort
from ctp10_gui.share.server import StreamServer
from ctp10_gui.views.main_window import MainWindow

log = logging.getLogger(__name__)


def start_stream_server(loop: qasync.QEventLoop, window: MainWindow, link: LinkPort,
                        host: str, port: int) -> StreamServer:
    """Start the stream server on loop, shown in the status bar (OSError: port taken)."""
    label = QLabel(window)

    def show(clients: int) -> None:
        where = f"Serving on {host}:{server.port} · {clients} client{'s' * (clients != 1)}"
        label.setText(where if server.loopback else f"⚠ {where}, open to other computers")

    server = StreamServer(link, host, port, on_clients_changed=show,
                          derived=lambda: window.derived.channels)
    loop.run_until_complete(server.start())
    show(0)
    window.statusBar().addPermanentWidget(label)
    if sys.stdout is not None:  # the line scripts and tests read the bound port from
        print(f"ctp10-gui: serving ws://{host}:{server.port}/ws/power", flush=True)
    return server


def run_event_loop(app: QApplication, window: MainWindow, link: LinkPort,
                   serve: tuple[str, int] | None) -> int:
    """Run until the app quits, serving the stream on serve=(host, port); return the exit code."""
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    server: StreamServer | None = None
    try:
        if serve is not None:
            try:
                server = start_stream_server(loop, window, link, *serve)
            except OSError as exc:
                message = f"ctp10-gui: cannot serve on {serve[0]}:{serve[1]}: {exc}"
                log.error("%s", message)
                window.show_message("Stream not served", message)
        return int(loop.run_forever())
    finally:
        if server is not None:
            loop.run_until_complete(server.stop())
        # Closed while the QApplication lives: a loop collected later touches deleted Qt objects.
        loop.close()
        asyncio.set_event_loop(None)
