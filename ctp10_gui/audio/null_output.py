"""A sound device stand-in: pulls a ToneSynth's buffers at the device's cadence and drops them.

Used where there is no sound card (benchmarks, tests) to run the tone exactly as PortAudio
would: a thread asks for one block every block period; a block finished after the device would
have run dry (its DEVICE_BLOCKS of buffering) counts as an underrun.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from ctp10_gui.audio.output import BLOCK_FRAMES, DEVICE_BLOCKS
from ctp10_gui.audio.priority import raise_thread_priority
from ctp10_gui.audio.tone import ToneSynth


class NullOutput:
    """Render block_frames-sample buffers in a thread at the synth's rate; count late ones."""

    def __init__(self, synth: ToneSynth, *, block_frames: int = BLOCK_FRAMES,
                 buffered_blocks: int = DEVICE_BLOCKS,
                 on_buffer: Callable[[np.ndarray, float], None] | None = None) -> None:
        """on_buffer(samples, monotonic s when rendered) is called in the output thread."""
        self.synth = synth
        self.block_frames = block_frames
        self.buffered_blocks = buffered_blocks
        self.on_buffer = on_buffer
        self.unavailable = ""
        self.underruns = 0
        self.priority = ""  # what the OS granted the render thread, as a sentence
        self.buffers = 0
        self.min_margin_s = float("inf")  # least time (s) a block was ready before a dry device
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def period_s(self) -> float:
        """Return the play time (s) of one block."""
        return self.block_frames / self.synth.sample_rate

    def start(self) -> bool:
        """Start pulling buffers (always succeeds)."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="null-audio", daemon=True)
            self._thread.start()
        return True

    def stop(self) -> None:
        """Stop the thread and wait for it (≤ 1 s)."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join(1.0)

    @property
    def running(self) -> bool:
        """Return True while buffers are pulled."""
        return self._thread is not None

    def _run(self) -> None:
        self.play(self._stop.wait)

    def play(self, wait: Callable[[float], bool]) -> None:
        """Pull buffers in the calling thread until wait(s to the next block) returns True."""
        self.priority = raise_thread_priority()  # PortAudio's device threads run raised too
        period = self.period_s
        t0 = time.monotonic()
        k = 0
        while True:
            out = self.synth.render(self.block_frames)
            done = time.monotonic()
            self.buffers += 1
            margin = t0 + (k + self.buffered_blocks) * period - done
            self.min_margin_s = min(self.min_margin_s, margin)
            if margin < 0:
                # The device would have played silence: count it and restart the clock.
                self.underruns += 1
                t0, k = done, 0
            if self.on_buffer is not None:
                self.on_buffer(out, done)
            k += 1
            if wait(max(0.0, t0 + k * period - time.monotonic())):
                return
