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
PUBLISH_S = 0.2  # the child copies its counts into shared memory this often, and at the end
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


def _publish(output: NullOutput | ToneOutput, stats: Any) -> None:
    stats[UNDERRUNS] = output.underruns
    if isinstance(output, NullOutput):
        stats[BLOCKS] = output.buffers
        stats[MIN_MARGIN] = output.min_margin_s


def _child_main(conn: Connection, sink: Sink, device: Any, sample_rate: int, block_frames: int,
                buffered_blocks: int, targets: Any, stats: Any, log_array: Any,
                log_blocks: int) -> None:
    """Play in the child until the parent says stop or goes away (runs in the child process)."""
    synth = _SharedTargetSynth(sample_rate, targets)

    def logged(_out: np.ndarray, done: float) -> None:
        i = int(stats[LOGGED]) % log_blocks
        log_array[2 * i], log_array[2 * i + 1] = done, synth.target[0]
        stats[LOGGED] += 1

    output: NullOutput | ToneOutput
    if sink == "null":
        output = NullOutput(synth, block_frames=block_frames, buffered_blocks=buffered_blocks,
                            on_buffer=logged if log_blocks else None)
    else:
        output = ToneOutput(synth, device=device)
    if not output.start():
        conn.send(("unavailable", output.unavailable))
        return
    conn.send(("ok", ""))
    told = False
    while True:
        if conn.poll(PUBLISH_S):
            try:
                message = conn.recv()
            except EOFError:
                break  # the GUI process is gone: so is the tone
            if message == "stop":
                break
            if message == "reset" and isinstance(output, NullOutput):
                output.min_margin_s = float("inf")
        _publish(output, stats)
        if output.priority and not told:
            conn.send(("priority", output.priority))
            told = True
    output.stop()
    _publish(output, stats)
