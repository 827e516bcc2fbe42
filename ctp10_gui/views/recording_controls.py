"""Record / Stop, the recording status label, "Save last N minutes…" and crash-recovery prompt.

Self-contained: give it the link controller, the flight recorder and the settings; it feeds
both recorders from the controller's signals (batch_received, link_event, identity_changed),
so nothing else should append to the flight recorder. The main window puts ``self`` in its
status bar and ``record_action`` / ``save_last_action`` / ``open_folder_action`` in its
toolbar or menus. It also keeps the instrument's state (procedures.read_instrument_state)
that every sidecar carries, and turns setting changes into event rows.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import platformdirs
from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMessageBox,
    QToolButton,
    QWidget,
)

from ctp10_gui import procedures
from ctp10_gui.hardware.ctp10 import Identity
from ctp10_gui.hardware.power import PowerUnitText
from ctp10_gui.link.port import LinkPort
from ctp10_gui.models.channel_names import key_channel
from ctp10_gui.models.derived import from_settings
from ctp10_gui.models.recording.events import SETTING_EVENT
from ctp10_gui.models.recording.flight_recorder import FlightRecorder, write_extract
from ctp10_gui.models.recording.format import (
    BatchLike,
    RecordingMetadata,
    identity_dict,
)
from ctp10_gui.models.recording.live_recorder import LiveRecorder, RecordingStatus
from ctp10_gui.models.recording.recovery import RecoveryReport, close_unfinished, find_unfinished
from ctp10_gui.models.recording.session_writer import SaveResult
from ctp10_gui.models.settings import MAX_LABEL_CHARS, AppSettings
from ctp10_gui.procedures.controls import ControlGroup
from ctp10_gui.views.background_job import BackgroundJobs

log = logging.getLogger(__name__)

STATUS_REFRESH_MS = 500  # elapsed time and size in the status bar: twice a second is plenty
MAX_PATH_CHARS = 80  # longer paths are elided in the middle (full path in the tooltip)
RECORDINGS_FOLDER_NAME = "ctp10-recordings"  # in the user's documents folder by default
# Several sets in a row (a form's Set, then its read-back refresh) cost one state read.
STATE_REFRESH_DELAY_MS = 500


def default_record_folder(settings: AppSettings) -> Path:
    """Return where recordings go: settings.record_folder or <Documents>/ctp10-recordings."""
    if settings.record_folder:
        return Path(settings.record_folder)
    return platformdirs.user_documents_path() / RECORDINGS_FOLDER_NAME


def format_size(n_bytes: int) -> str:
    """Return a byte count as '812 B', '12.3 kB', '45.6 MB' or '1.23 GB' (SI units)."""
    if n_bytes < 1000:
        return f"{n_bytes} B"
    for unit, scale in (("kB", 1e3), ("MB", 1e6), ("GB", 1e9)):
        if n_bytes < scale * 1000 or unit == "GB":
            value = n_bytes / scale
            return f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"
    raise AssertionError("unreachable")


def format_elapsed(seconds: float) -> str:
    """Return seconds (≥ 0) as H:MM:SS."""
    s = int(max(0.0, seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def elide_path(path: Path | str, max_chars: int = MAX_PATH_CHARS) -> str:
    """Return the path, shortened in the middle with '…' to at most max_chars characters."""
    text = str(path)
    if len(text) <= max_chars:
        return text
    keep = max_chars - 1
    return text[: keep // 3] + "…" + text[-(keep - keep // 3) :]


class RecordingControls(QWidget):
    """Status-bar widget and actions for live recording, flight-recorder saves and recovery."""

    recording_changed = Signal(bool)  # True when a recording starts, False when it ends
    message = Signal(str)  # a sentence for the user (saved, recovered, stopped with an error)
    instrument_state_changed = Signal(object)  # dict: the instrument state just read

    def __init__(
        self,
        controller: LinkPort,
        flight_recorder: FlightRecorder,
        settings: AppSettings,
        parent: QWidget | None = None,
        *,
        recorder: LiveRecorder | None = None,
        persist: Callable[[], object] | None = None,
    ) -> None:
        """persist: saves the settings at once (a folder or label chosen is kept on a crash)."""
        super().__init__(parent)
        self.controller = controller
        self.flight_recorder = flight_recorder
        self.settings = settings
        self.recorder = recorder or LiveRecorder()
        self._persist = persist
        self._state: dict[str, Any] = {}  # procedures.read_instrument_state, {} before a read
        self._identity: Identity | None = controller.identity
        self._layout: tuple[int, tuple[int, ...]] | None = None  # last batch's module/channels
        self._wavelengths_nm: dict[int, float] = {}  # last read back, nm by channel
        self._was_active = False
        self._last_text = ""
        self._jobs = BackgroundJobs(self)  # file writes off the GUI thread, outcome back in it
        self._recorded_identity: dict[str, str] | None = None  # instrument in the sidecar
        self._recording_extra: dict[str, Any] = {}
        self._other_identities: list[dict[str, str]] = []

        self.record_action = QAction("Record", self)
        self.record_action.setCheckable(True)
        self.record_action.setShortcut(QKeySequence("Ctrl+Shift+R"))
        self.record_action.setToolTip("Record live power to CSV (Ctrl+Shift+R)")
        self.record_action.toggled.connect(self._on_record_toggled)
        self.save_last_action = QAction("Save last N minutes…", self)
        self.save_last_action.setToolTip("Write the flight recorder's last minutes to CSV")
        self.save_last_action.triggered.connect(self._ask_save_last)
        self.save_last_action.setEnabled(flight_recorder.enabled)
        self.folder_action = QAction("Recording folder…", self)
        self.folder_action.setToolTip("Choose the folder recordings go to")
        self.folder_action.triggered.connect(self._ask_folder)
        self.open_folder_action = QAction("Open recording folder", self)
        self.open_folder_action.setToolTip("Show the recording folder in the file manager")
        self.open_folder_action.triggered.connect(self.open_folder)

        self.record_button = QToolButton(self)
        self.record_button.setDefaultAction(self.record_action)
        self.status_label = QLabel(self)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.record_button)
        layout.addWidget(self.status_label)

        self._timer = QTimer(self)
        self._timer.setInterval(STATUS_REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._state_timer = QTimer(self)
        self._state_timer.setSingleShot(True)
        self._state_timer.setInterval(STATE_REFRESH_DELAY_MS)
        self._state_timer.timeout.connect(self.read_instrument_state)

        controller.batch_received.connect(self._on_batch)
        controller.link_event.connect(self.record_event)
        controller.identity_changed.connect(self._on_identity)
        if self._identity is not None:
            self.schedule_state_read()  # built after the instrument answered
        self.refresh()

    # ------------------------------------------------------------ feeding the recorders
    def _on_batch(self, batch: BatchLike) -> None:
        self._layout = (int(batch.module), tuple(int(c) for c in batch.channels))
        self.flight_recorder.append(batch)
        self.recorder.write_batch(batch)

    def record_event(self, kind: str, text: str = "") -> None:
        """Add an event row (a link event, a sweep…) to the flight recorder and the recording."""
        self.flight_recorder.add_event(kind, text)
        self.recorder.write_event(kind, text)

    def set_wavelengths(self, waves: dict[int, float]) -> None:
        """Take the detector wavelengths read back (nm by channel) into every sidecar."""
        self._wavelengths_nm = {int(c): float(w) for c, w in waves.items()}
        if self.recorder.active:
            self.recorder.update_metadata(wavelengths_nm=dict(self._wavelengths_nm))

    def _on_identity(self, identity: Identity | None) -> None:
        if identity is not None and (self._identity is None
                                     or identity.serial != self._identity.serial):
            self._state = {}  # another instrument's settings are no earlier state of this one
        self._identity = identity
        if identity is not None:
            self.schedule_state_read()
        ident = identity_dict(identity)
        if ident is None or not self.recorder.active:
            return
        if self._recorded_identity is None:
            # Recording started before the instrument answered: now the sidecar can say who.
            self._recorded_identity = ident
            self.recorder.update_metadata(identity=ident)
        elif ident is not None and ident not in (self._recorded_identity, *self._other_identities):
            # The sidecar keeps the instrument the data came from; a different one answering
            # later (live then stops, see the event rows) is listed, not substituted.
            self._other_identities.append(ident)
            extra = {**self._recording_extra, "other_instruments": list(self._other_identities)}
            self.recorder.update_metadata(extra=extra)

    # ------------------------------------------------------------ metadata
    def metadata(self) -> RecordingMetadata:
        """Return what the sidecar says about the current instrument, channels and unit."""
        module, channels = self._layout or (self.settings.module, tuple(self.settings.channels))
        unit: PowerUnitText = "mW" if self.settings.power_unit == "mW" else "dBm"
        return RecordingMetadata(
            module=module,
            channels=channels,
            unit=unit,
            identity=identity_dict(self._identity),
            wavelengths_nm={c: w for c, w in self._wavelengths_nm.items() if c in channels},
            references=dict(self.settings.references),
            extra={"address": self.controller.address},
            instrument_state=dict(self._state),
            derived=tuple(from_settings(self.settings.derived_channels)[0]),
            channel_labels={ch: name for key, name in self.settings.channel_labels.items()
                            if (ch := key_channel(key)) is not None},
        )

    def _request_wavelengths(self, apply: Callable[[dict[int, float]], None]) -> None:
        """Ask the instrument (between snapshots) for each recorded channel's wavelength, nm."""
        if self._identity is None:
            return  # not connected: the sidecar simply has no wavelengths
        module, channels = self._layout or (self.settings.module, tuple(self.settings.channels))

        def failed(e: Exception) -> None:
            log.warning("wavelengths for the recording sidecar not read: %s", e)

        self.controller.request(
            partial(procedures.read_wavelengths, module=module, channels=channels), apply, failed)

    # ------------------------------------------------------------ live recording
    def start_recording(self, folder: str | Path | None = None, *, label: str = "") -> bool:
        """Start recording into folder (default: the settings' folder); False if already on.

        label: the sample's name, in the sidecar and (made safe) in the file names.
        Failures (unwritable folder, disk full) appear in the status label, never as exceptions.
        """
        if self.recorder.active:
            return False
        target = Path(folder) if folder is not None else default_record_folder(self.settings)
        meta = dataclasses.replace(self.metadata(), label=label.strip())
        started = self.recorder.start(target, meta)
        if started:
            self._recorded_identity = dict(meta.identity) if meta.identity else None
            self._recording_extra = dict(meta.extra)
            self._other_identities = []
            self._was_active = True
            self._request_wavelengths(lambda wl: self.recorder.update_metadata(wavelengths_nm=wl))
            self.read_instrument_state()
            self._timer.start()
            self._set_action_checked(True)
            self.recording_changed.emit(True)
            log.info("recording started in %s", target)
        self.refresh()
        return started

    def stop_recording(self) -> RecordingStatus:
        """Stop recording (writes what is queued, completes the sidecar) and return the status."""
        status = self.recorder.stop()
        self.refresh()
        return status

    def shutdown(self) -> None:
        """Stop recording and wait for background saves (call when the app quits)."""
        self.stop_recording()
        self._jobs.join(10.0)

    def _set_action_checked(self, on: bool) -> None:
        # The action reflects the recorder's state; no toggled() round trip when we set it.
        blocked = self.record_action.blockSignals(True)
        self.record_action.setChecked(on)
        self.record_action.setText("Stop" if on else "Record")
        self.record_action.setToolTip(
            "Stop recording (Ctrl+Shift+R)" if on else "Record live power to CSV (Ctrl+Shift+R)"
        )
        self.record_action.blockSignals(blocked)

    def _on_record_toggled(self, on: bool) -> None:
        if not on:
            self.stop_recording()
            return
        folder = self._folder_or_ask()
        label = self._ask_label() if folder is not None else None
        if folder is None or label is None:  # a dialog was cancelled: nothing starts
            self._set_action_checked(False)
            return
        self.start_recording(folder, label=label)

    def _folder_or_ask(self) -> Path | None:
        """Return the recording folder, asking for it the first time (None if cancelled)."""
        if self.settings.record_folder:
            return Path(self.settings.record_folder)
        return self._ask_folder()

    def _ask_label(self) -> str | None:
        """Ask for the sample label (the last one offered); None if cancelled."""
        text, ok = QInputDialog.getText(
            self, "Record", "Sample label (optional; goes into the file names):",
            text=self.settings.recording_label)
        if not ok:
            return None
        label = text.strip()[:MAX_LABEL_CHARS]
        if label != self.settings.recording_label:
            self.settings.recording_label = label
            self._save_settings()
        return label

    def _save_settings(self) -> None:
        if self._persist is not None:
            self._persist()

    def refresh(self) -> None:
        """Update the label and the action from the recorder's status."""
        status = self.recorder.status
        if status.active:
            path = status.path
            text = (
                f"● REC {format_elapsed(status.elapsed_s)} · {format_size(status.bytes_written)}"
                f" · {elide_path(path) if path else ''}"
            )
            self._show(text, error=False, tooltip=str(path) if path else "")
            return
        if self._was_active:
            # The recording just ended, by the user or by an I/O error in the writer thread.
            self._was_active = False
            self._timer.stop()
            self._set_action_checked(False)
            self.recording_changed.emit(False)
            if status.error:
                self.message.emit(status.error)
            elif status.sidecar is not None:
                self.message.emit(
                    f"Recording saved: {status.rows} rows in {len(status.files)} "
                    f"file{'s' if len(status.files) != 1 else ''}, {status.sidecar.parent}"
                )
        if status.error:
            self._show(status.error, error=True, tooltip=status.error)
        elif status.path is not None:
            self._show(
                f"Recorded {format_elapsed(status.elapsed_s)} · {format_size(status.bytes_written)}"
                f" · {elide_path(status.path)}",
                error=False,
                tooltip=str(status.path),
            )
        else:
            folder = default_record_folder(self.settings)
            where = (f"recordings go to {elide_path(folder)}" if self.settings.record_folder
                     else "the recording folder is asked at the first Record")
            self._show(f"Not recording · {where}", error=False,
                       tooltip=f"Recording folder: {folder}")

    def _show(self, text: str, *, error: bool, tooltip: str = "") -> None:
        self._last_text = text
        self.status_label.setText(text)
        self.status_label.setToolTip(tooltip)
        # Theme-independent red: an error must read as one on dark and light themes alike.
        self.status_label.setStyleSheet("color: #e0443e;" if error else "")

    def _ask_folder(self) -> Path | None:
        """Ask where recordings go (remembered in the settings); None if cancelled."""
        start = default_record_folder(self.settings)
        chosen = QFileDialog.getExistingDirectory(
            self, "Folder for recordings", str(start if start.is_dir() else start.parent))
        if not chosen:
            return None
        self.settings.record_folder = chosen
        self._save_settings()
        if not self.recorder.active:
            self.refresh()
        return Path(chosen)

    def open_folder(self) -> bool:
        """Show the recording folder (created if missing) in the file manager; False if not."""
        folder = default_record_folder(self.settings)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            text = f"Cannot open the recording folder {folder}: {e.strerror or e}"
            self._show(text, error=True, tooltip=text)
            self.message.emit(text)
            return False
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            self.message.emit(f"No file manager opened {folder}")
            return False
        return True

    # ------------------------------------------------------------ instrument state
    @property
    def instrument_state(self) -> dict[str, Any]:
        """Return the instrument state last read ({} before the first read)."""
        return dict(self._state)

    def schedule_state_read(self, *_: object) -> None:
        """Read the instrument state again shortly (after a set, a sweep, a reconnect)."""
        self._state_timer.start()

    def read_instrument_state(self) -> None:
        """Ask the instrument (between snapshots) for its state; changes become event rows."""
        if self._identity is None:
            return  # not connected: files keep the state last read
        module, channels = self._layout or (self.settings.module, tuple(self.settings.channels))

        def failed(e: Exception) -> None:
            log.warning("instrument state for the sidecars not read: %s", e)

        self.controller.request(
            partial(procedures.read_instrument_state, module=module, channels=channels),
            self._state_read, failed)

    def _state_read(self, state: dict[str, Any]) -> None:
        if self._state:
            for text in procedures.state_changes(self._state, state):
                self.record_event(SETTING_EVENT, text)
        self._state = state
        if self.recorder.active:
            self.recorder.update_metadata(instrument_state=dict(state))
        self.instrument_state_changed.emit(dict(state))

    def note_setting(self, group: ControlGroup, name: str, value: object) -> None:
        """Record a setting the user set and the instrument read back, then re-read the state."""
        self.record_event(SETTING_EVENT, procedures.describe_setting(group, name, value))
        if self._state:
            # The row above tells this change; the next read must not tell it again.
            self._state = procedures.apply_setting(self._state, group, name, value)
        self.schedule_state_read()

    # ------------------------------------------------------------ flight recorder
    def save_last(self, minutes: float, folder: str | Path | None = None) -> threading.Thread:
        """Write the flight recorder's last `minutes` to folder in the background.

        The data is copied now (what you see is what you get); the file is written on a thread.
        The outcome arrives as message (and in the status label).
        """
        target = Path(folder) if folder is not None else default_record_folder(self.settings)
        extract = self.flight_recorder.extract(minutes)
        meta = self.metadata()

        def failed(error: Exception) -> None:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else error
            text = f"Could not save the last {minutes:g} min: {reason}"
            log.error("%s", text)
            self._on_save_finished(text)

        return self._jobs.start("ctp10-save-last", partial(write_extract, extract, target, meta),
                                self._on_save_finished, failed)

    def _ask_save_last(self) -> None:
        held_min = self.flight_recorder.minutes
        minutes, ok = QInputDialog.getDouble(
            self,
            "Save last N minutes",
            "Minutes to save:",
            min(10.0, held_min),
            0.1,
            held_min,
            1,
        )
        if not ok:
            return
        start = self.settings.save_last_dir or str(default_record_folder(self.settings))
        folder = QFileDialog.getExistingDirectory(self, "Save to folder", start)
        if folder:
            self.settings.save_last_dir = folder
            self._save_settings()
            self.save_last(minutes, folder)

    def _on_save_finished(self, result: SaveResult | str) -> None:
        if isinstance(result, str):
            self._show(result, error=True, tooltip=result)
            self.message.emit(result)
            return
        text = (
            f"Saved {result.rows} rows ({format_size(result.bytes_written)}) to "
            f"{elide_path(result.files[0]) if result.files else result.sidecar}"
        )
        if not self.recorder.active:
            self._show(text, error=False, tooltip=str(result.sidecar))
        self.message.emit(text)

    # ------------------------------------------------------------ crash recovery
    def offer_recovery(self, folder: str | Path | None = None) -> QMessageBox | None:
        """Look for recordings a crash left unfinished; offer to close them (non-modal).

        Returns the prompt (None when there is nothing to recover).
        """
        target = Path(folder) if folder is not None else default_record_folder(self.settings)
        found = find_unfinished(target)
        if not found:
            return None
        names = "\n".join(p.stem for p in found[:10]) + ("\n…" if len(found) > 10 else "")
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Unfinished recording",
            f"{len(found)} recording{'s were' if len(found) > 1 else ' was'} not closed "
            f"properly (the app stopped while recording) in {target}:\n{names}\n\n"
            "Close them now? The rows written before the stop are kept; a torn last line is "
            "removed and the row count is written to the sidecar.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            self.window(),
        )
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def answered(button: int) -> None:
            if button == QMessageBox.StandardButton.Yes:
                self._close_unfinished(found)

        box.finished.connect(answered)
        box.show()
        return box

    def _close_unfinished(self, sidecars: list[Path]) -> threading.Thread:
        def failed(error: Exception) -> None:
            self._on_recovery_finished([f"Could not close the unfinished recordings: {error}"])

        return self._jobs.start("ctp10-recovery", partial(_close_each, sidecars),
                                self._on_recovery_finished, failed)

    def _on_recovery_finished(self, results: Sequence[RecoveryReport | str]) -> None:
        texts = [r if isinstance(r, str) else r.message for r in results]
        failed = any(isinstance(r, str) for r in results)
        text = " ".join(texts)
        if not self.recorder.active:
            self._show(text, error=failed, tooltip=text)
        self.message.emit(text)

    @property
    def status_text(self) -> str:
        """Return the label's current text (for tests and accessibility)."""
        return self._last_text


def _close_each(sidecars: Sequence[Path]) -> list[RecoveryReport | str]:
    """Close each unfinished recording; a failure becomes its sentence (runs off the GUI)."""
    results: list[RecoveryReport | str] = []
    for path in sidecars:
        try:
            results.append(close_unfinished(path))
        except (OSError, ValueError) as e:
            text = f"Could not close {path.name}: {e}"
            log.error("%s", text)
            results.append(text)
    return results
