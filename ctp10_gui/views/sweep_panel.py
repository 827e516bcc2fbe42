"""Sweep, referencing and trace fetching, all through the link controller's request queue.

A sweep is one busy request: the worker starts the scan and polls the condition register; the
GUI sees progress through a queued signal. Abort never waits behind that request: it sets a
thread-safe flag the worker's wait loop checks between polls, then the worker sends :ABORt. A
link loss ends the request with an error: the sweep is reported failed and never restarted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import TypeVar

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ctp10_gui import procedures
from ctp10_gui.hardware.ctp10 import CTP10, ReferenceResult, TraceType
from ctp10_gui.hardware.scpi import DETECTOR_CHANNELS, DETECTOR_MODULES
from ctp10_gui.link.port import LinkPort
from ctp10_gui.models.connection import LinkState, LinkStatus
from ctp10_gui.models.traces import TraceStore, trace_type_name
from ctp10_gui.procedures import (
    ChannelReference,
    FetchedTraces,
    ReferenceRun,
    SweepCheck,
    SweepPlan,
)
from ctp10_gui.procedures.sweep import Cancelled, Outcome, Progress
from ctp10_gui.views.theme import repolish

log = logging.getLogger(__name__)

T = TypeVar("T")

_USABLE = {LinkState.CONNECTED, LinkState.LIVE}
_LOST = {LinkState.RECONNECTING, LinkState.OFFLINE, LinkState.DISCONNECTED}


def format_duration(seconds: float) -> str:
    """Return "4.2 s", "1 min 05 s" for a duration in s (≥ 0)."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


class SweepPanel(QWidget):
    """Start/abort sweeps with progress, take references, fetch traces into a TraceStore."""

    sweep_started = Signal()
    # outcome "completed" | "aborted" | "failed" | "refused" (pre-flight: not started), message
    sweep_finished = Signal(str, str)
    references_updated = Signal(object)  # list of (module, channel, ReferenceResult)
    traces_fetched = Signal(object, str)  # list of StoredTrace, error text ("" when all fine)
    # Emitted from the worker thread; Qt queues it to the GUI thread:
    # (elapsed s, expected s, how the expectation was computed).
    _progress = Signal(float, float, str)

    def __init__(
        self,
        controller: LinkPort,
        traces: TraceStore,
        parent: QWidget | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("sweepPanel")
        self._controller = controller
        self._traces = traces
        self._clock = clock
        self._status: LinkStatus | None = None
        self._references: dict[tuple[int, int], ReferenceResult] = {}
        self._cancel = threading.Event()
        self._operation: str | None = None  # "sweep" | "reference" | "fetch" while running
        self._run_id = 0
        self._started_at = 0.0
        self._expected_s: float | None = None
        self._plan_text = ""
        self._after_sweep = False  # the fetch being started follows a sweep
        self._fetch_note = ""  # the sweep's outcome, kept in front of the fetch result
        self._reference_read_failed = False  # the last reference read failed (message shown)

        # -- channel choice shared by referencing and fetching --
        self.module_spin = QSpinBox(self)
        self.module_spin.setObjectName("sweepModule")
        self.module_spin.setRange(*DETECTOR_MODULES)
        self.module_spin.setValue(4)
        low, high = DETECTOR_MODULES
        self.module_spin.setToolTip(f"Detector module slot {low}–{high}")
        self.channel_checks: dict[int, QCheckBox] = {}
        channels_row = QGridLayout()  # two rows: one was wider than a laptop's half screen
        channels_row.addWidget(QLabel("Module", self), 0, 0)
        channels_row.addWidget(self.module_spin, 0, 1)
        channels_row.addWidget(QLabel("Channels", self), 1, 0)
        boxes = QHBoxLayout()
        channels_row.addLayout(boxes, 1, 1)
        channels_row.setColumnStretch(1, 1)
        for c in range(DETECTOR_CHANNELS[0], DETECTOR_CHANNELS[1] + 1):
            box = QCheckBox(str(c), self)
            box.setObjectName(f"sweepChannel{c}")
            box.setChecked(c == 1)
            self.channel_checks[c] = box
            boxes.addWidget(box)
        boxes.addStretch(1)

        # -- sweep --
        self.start_button = QPushButton("Start sweep", self)
        self.start_button.setObjectName("startSweep")
        self.start_button.setToolTip("Start a scan with the settings of the Instrument panel (F5)")
        # Actions, so the main window can offer them in a menu with shortcuts on any tab.
        self.start_action = QAction("&Start sweep", self)
        self.start_action.setShortcut(QKeySequence("F5"))
        self.start_action.triggered.connect(self.start_sweep)
        self.start_button.clicked.connect(self.start_sweep)
        self.abort_button = QPushButton("Abort", self)
        self.abort_button.setObjectName("abortSweep")
        self.abort_button.setToolTip("Stop the running sweep or reference now (Shift+F5)")
        self.abort_action = QAction("&Abort sweep", self)
        self.abort_action.setShortcut(QKeySequence("Shift+F5"))
        self.abort_action.triggered.connect(self.abort)
        self.abort_button.clicked.connect(self.abort)
        self.abort_button.setEnabled(False)
        self.progress = QProgressBar(self)
        self.progress.setObjectName("sweepProgress")
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("idle")
        self.time_label = QLabel("", self)
        self.time_label.setObjectName("sweepTime")
        self.time_label.setProperty("role", "hint")
        self.time_label.setWordWrap(True)  # the plan text is long; it must not widen the window
        self.result_label = QLabel("", self)
        self.result_label.setObjectName("sweepResult")
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.fetch_after = QCheckBox("Fetch traces after the sweep", self)
        self.fetch_after.setChecked(True)
        sweep_box = QGroupBox("Sweep", self)
        sl = QGridLayout(sweep_box)
        sl.addWidget(self.start_button, 0, 0)
        sl.addWidget(self.abort_button, 0, 1)
        sl.addWidget(self.progress, 0, 2)
        sl.addWidget(self.time_label, 1, 0, 1, 3)
        sl.addWidget(self.fetch_after, 2, 0, 1, 3)
        sl.addWidget(self.result_label, 3, 0, 1, 3)
        sl.setColumnStretch(2, 1)

        # -- references --
        self.reference_button = QPushButton("Create reference", self)
        self.reference_button.setObjectName("createReference")
        self.reference_button.setToolTip(
            "Take a reference on each chosen channel (one scan each; Abort stops it)"
        )
        self.reference_button.clicked.connect(self.create_references)
        self.list_button = QPushButton("Refresh list", self)
        self.list_button.setToolTip("Read the reference state of the chosen channels")
        self.list_button.clicked.connect(self.refresh_references)
        self.ref_table = QTableWidget(0, 6, self)
        self.ref_table.setObjectName("referenceTable")
        self.ref_table.setHorizontalHeaderLabels(
            ["Module", "Channel", "State", "Type", "Date", "Time"]
        )
        self.ref_table.verticalHeader().hide()
        self.ref_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.ref_table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents
        )
        self.ref_table.horizontalHeader().setStretchLastSection(True)
        ref_box = QGroupBox("References", self)
        rl = QVBoxLayout(ref_box)
        rb = QHBoxLayout()
        rb.addWidget(self.reference_button)
        rb.addWidget(self.list_button)
        rb.addStretch(1)
        rl.addLayout(rb)
        rl.addWidget(self.ref_table)

        # -- traces --
        self.type_checks: dict[TraceType, QCheckBox] = {}
        types_row = QGridLayout()  # two by two: four in a row made the window too wide
        for i, t in enumerate(TraceType):
            box = QCheckBox(trace_type_name(int(t)), self)
            box.setObjectName(f"traceType{int(t)}")
            box.setChecked(t is TraceType.TF_LIVE)
            self.type_checks[t] = box
            types_row.addWidget(box, i // 2, i % 2)
        types_row.setColumnStretch(2, 1)
        self.fetch_button = QPushButton("Fetch traces", self)
        self.fetch_button.setObjectName("fetchTraces")
        self.fetch_button.setToolTip("Read the chosen trace types of the chosen channels")
        self.fetch_button.clicked.connect(self.fetch_traces)
        trace_box = QGroupBox("Traces", self)
        tl = QVBoxLayout(trace_box)
        tl.addLayout(types_row)
        fb = QHBoxLayout()
        fb.addWidget(self.fetch_button)
        fb.addStretch(1)
        tl.addLayout(fb)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(channels_row)
        layout.addWidget(sweep_box)
        layout.addWidget(ref_box, 1)
        layout.addWidget(trace_box)

        self._button_tips = {
            b: b.toolTip()
            for b in (self.start_button, self.reference_button, self.fetch_button, self.list_button)
        }
        self._tick = QTimer(self)  # elapsed time keeps counting between worker reports
        self._tick.setInterval(100)
        self._tick.timeout.connect(self._show_elapsed)
        self._progress.connect(self._on_progress)
        controller.state_changed.connect(self.set_status)
        self.set_status(controller.status)

    # -- choices ----------------------------------------------------------------------------
    @property
    def module(self) -> int:
        """Return the chosen module slot (1–20)."""
        return self.module_spin.value()

    @property
    def channels(self) -> list[int]:
        """Return the chosen channels (1–6), ascending."""
        return [c for c, box in self.channel_checks.items() if box.isChecked()]

    def set_channels(self, module: int, channels: Sequence[int]) -> None:
        """Choose a module and its channels (1–6)."""
        self.module_spin.setValue(module)
        for c, box in self.channel_checks.items():
            box.setChecked(c in channels)

    @property
    def trace_types(self) -> list[TraceType]:
        """Return the chosen trace types."""
        return [t for t, box in self.type_checks.items() if box.isChecked()]

    def set_trace_types(self, types: Sequence[TraceType]) -> None:
        """Choose the trace types to fetch."""
        for t, box in self.type_checks.items():
            box.setChecked(t in types)

    @property
    def running(self) -> str | None:
        """Return the running operation ("sweep", "reference", "fetch") or None."""
        return self._operation

    # -- link state ------------------------------------------------------------------------------
    def set_status(self, status: LinkStatus | None) -> None:
        """Follow a LinkStatus: enable actions when usable, fail a running operation on loss."""
        previous = self._status
        self._status = status
        state = status.state if status is not None else LinkState.DISCONNECTED
        if self._operation is not None and state in _LOST:
            why = status.reason if status is not None and status.reason else state.label.lower()
            self._finish("failed", self._failure_text(f"link lost ({why})"))
        self._update_buttons()
        was_usable = previous is not None and previous.state in (*_USABLE, LinkState.BUSY)
        if state in _USABLE and not was_usable and self.channels:
            self.refresh_references()

    def _usable(self) -> bool:
        return self._status is not None and self._status.state in _USABLE

    def _update_buttons(self) -> None:
        idle = self._operation is None
        usable = self._usable()
        why = "" if usable else "Not available: the link is not Connected or Live"
        for button, tip in self._button_tips.items():
            button.setEnabled(idle and usable)
            button.setToolTip(why or tip)
        self.abort_button.setEnabled(self._operation in ("sweep", "reference"))
        self.start_action.setEnabled(self.start_button.isEnabled())
        self.abort_action.setEnabled(self.abort_button.isEnabled())

    # -- sweep ------------------------------------------------------------------------------------
    def start_sweep(self) -> None:
        """Start a sweep: read the plan, then run it as a busy request; outcome reported."""
        if self._operation is not None or not self._usable():
            return
        cancelled = self._begin("sweep", "Starting sweep…")

        def sweep(plan: SweepPlan, progress: Progress
                  ) -> Callable[[CTP10], Outcome]:
            return partial(procedures.run_sweep, plan=plan, progress=progress,
                           cancelled=cancelled)

        self._planned(sweep, self._sweep_done, "Sweeping", 1)
        self.sweep_started.emit()

    def _planned(
        self,
        job: Callable[[SweepPlan, Progress], Callable[[CTP10], T]],
        on_done: Callable[[int, T], None],
        label: str,
        scans: int,
        before_start: Callable[[Callable[[], None]], None] | None = None,
    ) -> None:
        """Check the scan (quick request: plan and refusals), then queue job(plan) busy.

        before_start(go), when given, runs once the check passed and calls go() to start.
        """
        run_id = self._run_id

        def plan_read(check: SweepCheck) -> None:
            if run_id != self._run_id:
                return
            if self._cancel.is_set():  # aborted while the plan was read: nothing was started
                self._finish("aborted", f"{label} aborted before it started.")
                return
            if check.refusals:  # nothing was started: the instrument would scan in the dark
                what = "Sweep" if self._operation == "sweep" else "Reference"
                self._finish("refused", f"{what} not started: {check.sentence()}")
                return
            plan = check.plan
            expected = plan.expected_s * scans
            text = plan.describe() if scans == 1 else f"{scans} × {plan.describe()}"
            self._expected_s = expected
            self._plan_text = text
            self._show_elapsed()
            signal = self._progress  # the worker reports through a queued signal, not widgets

            def progress(elapsed: float) -> None:
                signal.emit(elapsed, expected, text)

            def go() -> None:
                # The watchdog must allow the whole operation, not the default busy deadline.
                self._controller.request(
                    job(plan, progress),
                    lambda result: on_done(run_id, result),
                    lambda exc: self._failed(run_id, exc),
                    busy=True,
                    label=label,
                    timeout_s=procedures.deadline_s(plan.expected_s) * scans,
                )

            if before_start is None:
                go()
            else:
                before_start(go)

        self._controller.request(procedures.check_sweep, plan_read,
                                 lambda exc: self._failed(run_id, exc))

    def _sweep_done(self, run_id: int, outcome: Outcome) -> None:
        if run_id != self._run_id or self._operation != "sweep":
            return
        elapsed = format_duration(self._clock() - self._started_at)
        if outcome == "completed":
            self._finish("completed", f"Sweep completed in {elapsed}.")
            if self.fetch_after.isChecked() and self.channels and self.trace_types:
                self._after_sweep = True
                try:
                    self.fetch_traces()
                finally:
                    self._after_sweep = False
        else:
            self._finish("aborted", f"Sweep aborted after {elapsed}.")

    def abort(self) -> None:
        """Ask the running sweep or reference to stop: the worker sends :ABORt at once."""
        if self._operation not in ("sweep", "reference"):
            return
        self._cancel.set()
        self.abort_button.setEnabled(False)
        self.abort_action.setEnabled(False)
        self.progress.setFormat("aborting…")
        self._show_result(f"Aborting the {self._operation}…", "hint")

    # -- references -------------------------------------------------------------------------------
    def create_references(self) -> None:
        """Take a reference on each chosen channel, one after the other (busy request)."""
        channels = self.channels
        if not channels:
            self._show_result("Choose at least one channel to reference.", "error")
            return
        if self._operation is not None or not self._usable():
            return
        module = self.module
        cancelled = self._begin("reference",
                                f"Referencing module {module} channels {channels}…")
        targets = [(module, c) for c in channels]
        run_id = self._run_id

        def references(plan: SweepPlan, progress: Progress
                       ) -> Callable[[CTP10], ReferenceRun]:
            return partial(procedures.take_references, plan=plan, targets=targets,
                           progress=progress, cancelled=cancelled)

        def ask_before_replacing(go: Callable[[], None]) -> None:
            # A new reference replaces the instrument's stored one for good: ask first.
            def existing_read(results: list[ChannelReference]) -> None:
                if run_id != self._run_id:
                    return
                # Shown, not announced: listeners (recordings) hear of references taken or
                # refreshed, not of this look before replacing.
                self._merge_references(results, announce=False)
                taken = [r for r in results if r.result.state != 0]
                if self._cancel.is_set():
                    self._finish("aborted", "Referencing aborted before it started.")
                elif taken and not self._confirm_overwrite(taken):
                    self._finish("aborted", "Reference not taken: the instrument keeps the "
                                            "existing one(s).")
                else:
                    self._started_at = self._clock()  # time spent on the question is no scan
                    go()

            self._controller.request(partial(procedures.read_references, targets=targets),
                                     existing_read, lambda exc: self._failed(run_id, exc))

        self._planned(references, self._reference_done, "Referencing", len(channels),
                      before_start=ask_before_replacing)

    def _confirm_overwrite(self, taken: Sequence[ChannelReference]) -> bool:
        """Ask whether to replace the references listed (with their dates); True on Yes."""
        lines = []
        for module, channel, result in taken:
            when = result.taken.strftime("%Y-%m-%d %H:%M:%S") if result.taken else "date unknown"
            lines.append(f"Module {module} channel {channel}: reference of {when}")
        text = ("The instrument already holds a reference for:\n" + "\n".join(lines)
                + "\n\nA new reference replaces it; the old one cannot be brought back. "
                  "Replace it?")
        answer = QMessageBox.question(
            self, "Replace the instrument's reference?", text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def _reference_done(self, run_id: int, run: ReferenceRun) -> None:
        if run_id != self._run_id or self._operation != "reference":
            return
        self._merge_references(run.references)
        elapsed = format_duration(self._clock() - self._started_at)
        if run.outcome == "completed":
            self._finish("completed",
                         f"Reference taken on {len(run.references)} channel(s) in {elapsed}.")
        else:
            self._finish("aborted", f"Referencing aborted after {elapsed}.")

    def refresh_references(self) -> None:
        """Read the reference state of the chosen channels (quick, not busy)."""
        module, channels = self.module, self.channels
        if not channels or not self._usable():
            return

        def failed(exc: Exception) -> None:
            self._show_result(f"Cannot read references: {exc}", "error")
            self._reference_read_failed = True

        self._controller.request(
            partial(procedures.read_references, targets=[(module, c) for c in channels]),
            self._merge_references, failed)

    def _merge_references(self, results: Sequence[ChannelReference], *,
                          announce: bool = True) -> None:
        if self._reference_read_failed and self._operation is None:
            # An automatic re-read after a reconnect worked: the old failure no longer holds.
            self._reference_read_failed = False
            if self.result_label.text().startswith("Cannot read references"):
                self._show_result("", "hint")
        rows: dict[tuple[int, int], ReferenceResult] = dict(self._references)
        for module, channel, result in results:
            rows[(module, channel)] = result
        self._references = rows
        self.ref_table.setRowCount(len(rows))
        for row, ((module, channel), result) in enumerate(sorted(rows.items())):
            taken = result.taken
            cells = (
                str(module),
                str(channel),
                "none" if result.state == 0 else f"taken ({result.state})",
                "—" if result.state == 0 else str(result.type),
                taken.strftime("%Y-%m-%d") if taken else "—",
                taken.strftime("%H:%M:%S") if taken else "—",
            )
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(f"Instrument reply: {result.raw}")
                self.ref_table.setItem(row, col, item)
        if announce:
            self.references_updated.emit(list(results))

    def reference_rows(self) -> list[tuple[str, ...]]:
        """Return the reference table as text rows (Module, Channel, State, Type, Date, Time)."""
        table = self.ref_table
        return [
            tuple(cell.text() if (cell := table.item(r, c)) is not None else ""
                  for c in range(table.columnCount()))
            for r in range(table.rowCount())
        ]

    # -- traces ------------------------------------------------------------------------------------
    def fetch_traces(self) -> None:
        """Fetch the chosen trace types of the chosen channels into the trace store."""
        module, channels, types = self.module, self.channels, self.trace_types
        if self._operation is not None or not self._usable():
            return
        if not channels or not types:
            self._show_result("Choose at least one channel and one trace type.", "error")
            return
        cancelled = self._begin("fetch", f"Fetching {len(channels) * len(types)} trace(s)…")
        requests = procedures.trace_requests(module, channels, types)
        run_id = self._run_id
        self._controller.request(
            partial(procedures.fetch_traces, requests=requests, cancelled=cancelled),
            lambda result: self._fetch_done(run_id, result),
            lambda exc: self._failed(run_id, exc), busy=True, label="Fetching traces",
            timeout_s=procedures.FETCH_TIMEOUT_S * len(requests),
        )

    def _fetch_done(self, run_id: int, result: FetchedTraces) -> None:
        if run_id != self._run_id or self._operation != "fetch":
            return
        stored = [
            self._traces.add_trace(
                trace, identity=result.identity, settings=result.settings,
                acquired=result.acquired,
            )
            for trace in result.traces
        ]
        errors = "; ".join(result.errors)
        points = sum(t.points for t in stored)
        text = f"{self._fetch_note} Fetched {len(stored)} trace(s), {points} points.".strip()
        if errors:
            text += f" Not fetched: {errors}"
        self._finish("completed" if not errors else "failed", text, report=False)
        self._show_result(text, "error" if errors else "ok")
        self.traces_fetched.emit(stored, errors)

    # -- shared plumbing ----------------------------------------------------------------------
    def _begin(self, operation: str, note: str) -> Cancelled:
        self._run_id += 1
        self._operation = operation
        self._cancel = threading.Event()
        self._started_at = self._clock()
        if operation != "fetch":  # the bar and times stay those of the sweep before a fetch
            self._expected_s = None
            self._plan_text = ""
            self.progress.setValue(0)
            self.progress.setFormat(f"{operation}…")
            self.time_label.setText("")
            self._tick.start()
            self._show_result(note, "hint")
        else:
            self._fetch_note = self.result_label.text() if self._after_sweep else ""
            self._show_result(f"{self._fetch_note} {note}".strip(), "hint")
        self._update_buttons()
        # The worker stops polling on Abort, on a link loss seen here, or when the app quits.
        return procedures.any_cancelled(self._cancel.is_set, self._controller.cancelled)

    def _failed(self, run_id: int, exc: Exception) -> None:
        if run_id != self._run_id or self._operation is None:
            return
        self._finish("failed", self._failure_text(str(exc)))

    def _failure_text(self, why: str) -> str:
        """Return the report of the running operation's failure."""
        what = {"sweep": "Sweep", "reference": "Referencing", "fetch": "Fetching traces"}
        text = f"{what.get(self._operation or '', 'Operation')} failed: {why}."
        if self._operation in ("sweep", "reference"):
            text += " It was not restarted."  # a half-done scan is never repeated unasked
        return text

    def _finish(self, outcome: str, message: str, *, report: bool = True) -> None:
        operation = self._operation
        self._operation = None
        self._run_id += 1  # late callbacks of this run are ignored from now on
        self._cancel.set()  # a worker still looping (link loss seen first here) stops polling
        self._tick.stop()
        if operation != "fetch":
            if outcome == "completed":
                self.progress.setValue(self.progress.maximum())
            self.progress.setFormat(f"{operation} {outcome}")
            self._show_elapsed(final=True)
        self._update_buttons()
        if report:
            self._show_result(message, {"completed": "ok", "aborted": "hint"}.get(outcome, "error"))
            if operation == "sweep":
                self.sweep_finished.emit(outcome, message)
        log.info("%s %s: %s", operation, outcome, message)

    def _on_progress(self, elapsed: float, expected: float, plan_text: str) -> None:
        if self._operation not in ("sweep", "reference"):
            return
        self._expected_s = expected
        self._plan_text = plan_text
        self._show_elapsed()

    def _show_elapsed(self, *, final: bool = False) -> None:
        if self._operation is None and not final:
            return
        elapsed = self._clock() - self._started_at
        expected = self._expected_s
        verb = "Took" if final else "Elapsed"
        if expected and expected > 0:
            if not final:
                # Never show 100 % before the instrument says it is done.
                fraction = min(elapsed / expected, 0.99)
                self.progress.setValue(int(fraction * self.progress.maximum()))
                self.progress.setFormat(f"{self._operation} %p%")
            plan = f" ({self._plan_text})" if self._plan_text else ""
            self.time_label.setText(
                f"{verb} {format_duration(elapsed)} of ≈ {format_duration(expected)} expected"
                f"{plan}"
            )
        else:
            self.time_label.setText(f"{verb} {format_duration(elapsed)}")

    def _show_result(self, text: str, role: str) -> None:
        self.result_label.setText(text)
        self.result_label.setProperty("role", role)
        repolish(self.result_label)
