"""Render the tone in a child process, so the GUI thread's hold on the GIL never delays a block.

In one process the audio thread needs the GIL for every block (5.3 ms); when the GUI thread
holds it and the OS preempts the GUI thread on a busy machine, the block waits until the GUI
thread runs again: 25–120 ms late, past the device's 21 ms of buffering
(benchmarks/bench_alignment.py: 2–6 underruns a minute at load 2–3). The child has a GIL of its
own: the GUI thread writes the synth's target (Hz, amplitude) into shared memory, the child
reads it before each block and asks the OS to run its audio thread raised (audio/priority.py).
"""

from __future__ import annotations

import logging
import multiprocessing
from multiprocessing.connection import Connection
from typing import Any, Literal

import numpy as np

from ctp10_gui.audio.null_output import NullOutput
from ctp10_gui.audio.output import BLOCK_FRAMES, DEVICE_BLOCKS, ToneOutput
from ctp10_gui.audio.tone import ToneSynth

log = logging.getLogger("ctp10_gui.audio")

START_TIMEOUT_S = 20.0  # spawning Python and importing numpy and PortAudio on a slow, busy PC
STOP_TIMEOUT_S = 2.0
# Shared statistics, written by the child: [underruns, blocks, least margin s, blocks logged].
UNDERRUNS, BLOCKS, MIN_MARGIN, LOGGED = range(4)
Sink = Literal["device", "null"]


class ProcessOutput:
    """Play a ToneSynth's targets from a child process: the sound device or a null sink.

    start() returns at once (the child takes 0.3–1.5 s to import numpy and PortAudio, too long
    to freeze the window for); a child that finds no sound says so, and `unavailable` holds
    its sentence from the next look on.
    """

    def __init__(self, synth: ToneSynth, *, sink: Sink = "device", device: Any = None,
                 block_frames: int = BLOCK_FRAMES, buffered_blocks: int = DEVICE_BLOCKS,
                 log_blocks: int = 0) -> None:
        """log_blocks: keep the last n blocks' (monotonic s when rendered, Hz) for benchmarks."""
        self.synth = synth
        self.sink: Sink = sink
        self.device = device
        self.block_frames = block_frames
        self.buffered_blocks = buffered_blocks
        self.log_blocks = log_blocks
        self._unavailable = ""
        self._priority = ""
        self._playing = False  # the child said it plays
        ctx = multiprocessing.get_context("spawn")  # the same on Linux, Windows and macOS
        self._ctx = ctx
        self._targets = ctx.Array("d", 2, lock=False)  # Hz, amplitude 0–1
        self._stats = ctx.Array("d", 4, lock=False)
        self._log = ctx.Array("d", max(1, 2 * log_blocks), lock=False)
        self._process: Any = None
        self._conn: Connection | None = None

    @property
    def period_s(self) -> float:
        """Return the play time (s) of one block."""
        return self.block_frames / self.synth.sample_rate

    @property
    def running(self) -> bool:
        """Return True from start() on while the child has not failed or been stopped."""
        self._read_messages()
        return self._process is not None

    @property
    def playing(self) -> bool:
        """Return True once the child plays (False while it starts)."""
        self._read_messages()
        return self._playing

    @property
    def unavailable(self) -> str:
        """Return why there is no sound, as a sentence ("" while starting or playing)."""
        self._read_messages()
        return self._unavailable

    @property
    def priority(self) -> str:
        """Return what the OS granted the child's audio thread, as a sentence ("" until known)."""
        self._read_messages()
        return self._priority

    @property
    def underruns(self) -> int:
        """Return the blocks the device ran dry for (the child's count)."""
        return int(self._stats[UNDERRUNS])

    @property
    def buffers(self) -> int:
        """Return the blocks rendered so far."""
        return int(self._stats[BLOCKS])

    @property
    def min_margin_s(self) -> float:
        """Return the least time (s) a block was ready before the device would have run dry."""
        return float(self._stats[MIN_MARGIN])

    def reset_least_margin(self) -> None:
        """Start the least margin afresh (e.g. after a warm-up)."""
        if self._conn is not None:
            self._conn.send("reset")

    def logged_blocks(self) -> list[tuple[float, float]]:
        """Return the logged blocks' (monotonic s when rendered, Hz), oldest first."""
        n = int(self._stats[LOGGED])
        first = max(0, n - self.log_blocks)
        return [(self._log[2 * (i % self.log_blocks)], self._log[2 * (i % self.log_blocks) + 1])
                for i in range(first, n)]

    def start(self) -> bool:
        """Start the child (returns at once); False only when no process can be started."""
        if self._process is not None:
            return True
        self._stats[:] = [0.0, 0.0, float("inf"), 0.0]
        self._unavailable = self._priority = ""
        self._playing = False
        self._mirror()
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(
            target=_child_main, name="ctp10-tone", daemon=True,
            args=(child, self.sink, self.device, self.synth.sample_rate, self.block_frames,
                  self.buffered_blocks, self._targets, self._stats, self._log, self.log_blocks))
        try:
            process.start()
        except OSError as exc:
            self._unavailable = f"No sound: the tone's process did not start ({exc})."
            log.warning("%s", self._unavailable)
            parent.close()
            return False
        finally:
            child.close()
        self._process, self._conn = process, parent
        self.synth.listener = self._mirror
        return True

    def wait_started(self, timeout_s: float = START_TIMEOUT_S) -> bool:
        """Wait (blocking, ≤ timeout_s) until the child plays or fails; True if it plays."""
        conn = self._conn
        if conn is not None and not self._playing and conn.poll(timeout_s):
            self._read_messages()
        return self._playing

    def stop(self) -> None:
        """Stop the child and wait for it (≤ 2 s; killed after that)."""
        process, conn = self._process, self._conn
        self._process = self._conn = None
        self._playing = False
        self.synth.listener = None
        if process is None or conn is None:
            return
        try:
            conn.send("stop")
        except OSError:
            pass  # the child has gone already: joining finds that out
        process.join(STOP_TIMEOUT_S)
        if process.is_alive():
            log.warning("tone process did not stop in %.0f s: killed", STOP_TIMEOUT_S)
            process.kill()
            process.join(STOP_TIMEOUT_S)
        conn.close()

    def _read_messages(self) -> None:
        """Take the child's news without waiting: playing, no sound (and why), its priority."""
        conn = self._conn
        try:
            while conn is not None and conn.poll():
                kind, text = conn.recv()
                if kind == "ok":
                    self._playing = True
                    log.info("tone process playing")
                elif kind == "priority":
                    self._priority = text
                else:
                    self._failed(text)
                    return
        except (EOFError, OSError):
            self._failed("No sound: the tone's process ended.")

    def _failed(self, text: str) -> None:
        self._unavailable = text
        log.warning("%s", text)
        process, conn = self._process, self._conn
        self._process = self._conn = None
        self._playing = False
        self.synth.listener = None
        if conn is not None:
            conn.close()
        if process is not None:
            process.join(STOP_TIMEOUT_S)  # it returns right after saying why
            if process.is_alive():
                process.kill()

    def _mirror(self) -> None:
        """Copy the synth's target into shared memory (GUI thread, on every change)."""
        hz, amp = self.synth.target
        self._targets[0], self._targets[1] = hz, amp


class _SharedTargetSynth(ToneSynth):
    """The child's synth: takes the target the GUI process wrote before every block."""

    def __init__(self, sample_rate: int, targets: Any) -> None:
        super().__init__(sample_rate)
        self._shared = targets

    def render(self, n: int) -> np.ndarray:
        """Return the next n samples, gliding to the target shared by the GUI process."""
        self.set_target(self._shared[0], self._shared[1])
        return super().render(n)


def _child_main(conn: Connection, sink: Sink, device: Any, sample_rate: int, block_frames: int,
                buffered_blocks: int, targets: Any, stats: Any, log_array: Any,
                log_blocks: int) -> None:
    """Play in the child until the parent says stop or goes away (runs in the child process).

    One Python thread renders and nothing else wakes up while it plays: a second thread of the
    child, preempted while it holds the child's GIL, delays blocks as the GUI thread does
    (measured with a 0.2 s poll in a second thread: one block 132 ms late in 10 min).
    """
    synth = _SharedTargetSynth(sample_rate, targets)
    output: NullOutput | ToneOutput

    def rendered(_out: np.ndarray, done: float) -> None:
        # Shared memory, read by the GUI process whenever it likes: no message, no wake-up.
        stats[UNDERRUNS] = output.underruns
        stats[BLOCKS] += 1
        if isinstance(output, NullOutput):
            stats[MIN_MARGIN] = output.min_margin_s
        if log_blocks:
            i = int(stats[LOGGED]) % log_blocks
            log_array[2 * i], log_array[2 * i + 1] = done, synth.target[0]
            stats[LOGGED] += 1

    if sink == "null":
        null = output = NullOutput(synth, block_frames=block_frames,
                                   buffered_blocks=buffered_blocks, on_buffer=rendered)
        told: list[bool] = []

        def wait(seconds: float) -> bool:
            """Sleep until the next block; True when the parent said stop or went away."""
            if not told:
                told.append(True)
                conn.send(("priority", null.priority))  # known once play() has started
            if not conn.poll(seconds):
                return False
            try:
                message = conn.recv()
            except EOFError:
                return True
            if message == "reset":
                null.min_margin_s = float("inf")
                return False
            return True

        conn.send(("ok", ""))
        null.play(wait)  # in this thread, raised as the device's thread would be
        return
    output = ToneOutput(synth, device=device, on_buffer=rendered)
    if not output.start():
        conn.send(("unavailable", output.unavailable))
        return
    conn.send(("ok", ""))
    while not output.priority and not conn.poll(0.05):
        pass  # until PortAudio's first callback has raised its thread (a few ms)
    if output.priority:
        conn.send(("priority", output.priority))
    try:
        while conn.recv() != "stop":
            pass  # no waking up while it plays; a reset means nothing to a real device
    except EOFError:
        pass  # the GUI process is gone: so is the tone
    output.stop()
