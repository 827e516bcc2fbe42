"""Trace files off the GUI thread: export stored traces, open exported ones into the store.

A 940 001-row CSV takes seconds to format or parse, so both run as background jobs; the work
closures hold traces, paths and arrays only, and the store is filled in the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
from PySide6.QtCore import QObject, Signal

from ctp10_gui.models.settings import AppSettings
from ctp10_gui.models.traces import StoredTrace, TraceStore, export_trace, load_trace_file
from ctp10_gui.views.background_job import BackgroundJobs

__all__ = ["TraceFiles", "export_names"]

T = TypeVar("T")

LoadedFile = tuple[Path, tuple[np.ndarray, np.ndarray, dict[str, Any]]]


def export_names(traces: Sequence[StoredTrace], target: Path) -> list[tuple[StoredTrace, Path]]:
    """Return (trace, file) pairs: target itself for one trace, "<stem>_<label><suffix>" else."""
    if len(traces) == 1:
        return [(traces[0], target)]
    pairs = []
    for trace in traces:
        tag = trace.label.replace(" ", "_").replace("(", "").replace(")", "")
        pairs.append((trace, target.with_name(f"{target.stem}_{tag}{target.suffix}")))
    return pairs


def _error_text(exc: Exception) -> str:
    if isinstance(exc, OSError | ValueError):
        return str(exc)
    return f"unexpected error: {exc!r}"


def _opt_int(value: object) -> int | None:
    return None if value is None else int(str(value))


class TraceFiles(QObject):
    """Export and open trace files in the background, one job at a time."""

    export_finished = Signal(object, str)  # list of written paths, error text ("" when fine)
    open_finished = Signal(object, str)  # list of StoredTrace added, error text
    busy_changed = Signal(bool)  # True while a file job runs
    message = Signal(str, str)  # (text, role "hint" / "ok" / "error") for the status line

    def __init__(self, store: TraceStore, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._store = store
        self._jobs = BackgroundJobs(self)
        self._settings: AppSettings | None = None
        self._persist: Callable[[], object] | None = None

    def remember_folders_in(self, settings: AppSettings,
                            persist: Callable[[], object] | None = None) -> None:
        """Keep the last export and open folders in settings (persist saves them at once)."""
        self._settings = settings
        self._persist = persist

    def start_path(self, kind: Literal["export", "open"], name: str = "") -> str:
        """Return where a file dialog starts: the folder used last for kind, plus name."""
        settings = self._settings
        folder = None if settings is None else (
            settings.trace_export_dir if kind == "export" else settings.trace_open_dir)
        if not folder:
            return name
        return str(Path(folder) / name) if name else folder

    def remember_export_folder(self, folder: Path) -> None:
        """Start the next export dialog (traces or resonance table) in folder."""
        self._remember("export", folder)

    def _remember(self, kind: Literal["export", "open"], folder: Path) -> None:
        if self._settings is None:
            return
        if kind == "export":
            self._settings.trace_export_dir = str(folder)
        else:
            self._settings.trace_open_dir = str(folder)
        if self._persist is not None:
            self._persist()

    @property
    def busy(self) -> bool:
        """Return True while an export or open runs."""
        return self._jobs.busy

    def join(self, timeout_s: float = 5.0) -> bool:
        """Wait up to timeout_s s for the running job's thread; True if none is left."""
        return self._jobs.join(timeout_s)

    def export(self, keys: Sequence[int], path: str | Path) -> bool:
        """Write traces keys to path (CSV or NPY by suffix) in the background; False if busy."""
        target = Path(path)
        pairs = export_names([self._store.get(key) for key in keys], target)
        self._remember("export", target.parent)

        def work() -> list[Path]:
            written: list[Path] = []
            for trace, name in pairs:
                written.extend(export_trace(trace, name))
            return written

        def done(written: list[Path]) -> None:
            self.message.emit(f"Exported {', '.join(p.name for p in written)}", "ok")
            self.export_finished.emit(written, "")

        def failed(exc: Exception) -> None:
            text = _error_text(exc)
            self.message.emit(f"Export failed: {text}", "error")
            self.export_finished.emit([], text)

        return self._start("export", work, done, failed,
                           f"Exporting {len(pairs)} trace(s) to {target.parent}…")

    def open(self, paths: Sequence[str | Path]) -> bool:
        """Read exported traces in the background, then add them to the store; False if busy."""
        files = [Path(p) for p in paths]
        if files:
            self._remember("open", files[0].parent)

        def work() -> list[LoadedFile]:
            return [(p, load_trace_file(p)) for p in files]

        def done(loaded: list[LoadedFile]) -> None:
            added = [
                self._store.add_arrays(
                    x, y,
                    unit=str(meta.get("y_unit", "dB")),
                    module=_opt_int(meta.get("module")),
                    channel=_opt_int(meta.get("channel")),
                    trace_type=_opt_int(meta.get("trace_type")),
                    metadata=meta,
                    source=str(path),
                    name=str(meta.get("name") or ""),
                )
                for path, (x, y, meta) in loaded
            ]
            self.message.emit(f"Opened {', '.join(t.label for t in added)}", "ok")
            self.open_finished.emit(added, "")

        def failed(exc: Exception) -> None:
            text = _error_text(exc)
            self.message.emit(f"Open failed: {text}", "error")
            self.open_finished.emit([], text)

        return self._start("open", work, done, failed, f"Opening {len(files)} file(s)…")

    def _start(self, kind: str, work: Callable[[], T], done: Callable[[T], None],
               failed: Callable[[Exception], None], note: str) -> bool:
        if self._jobs.busy:
            self.message.emit("Still writing or reading files; try again when it is done.",
                              "error")
            return False
        self.message.emit(note, "hint")

        def on_done(result: T) -> None:
            self.busy_changed.emit(False)
            done(result)

        def on_error(exc: Exception) -> None:
            self.busy_changed.emit(False)
            failed(exc)

        self._jobs.start(f"trace-{kind}", work, on_done, on_error)
        self.busy_changed.emit(True)
        return True
