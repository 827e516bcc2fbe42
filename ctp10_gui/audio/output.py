"""Play a ToneSynth on the default sound device through sounddevice (PortAudio), if there is one.

Without the library, PortAudio or an output device, `ToneOutput.unavailable` says why in a
sentence the UI shows, and nothing else changes: the app runs on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ctp10_gui.audio.priority import raise_thread_priority
from ctp10_gui.audio.tone import ToneSynth

log = logging.getLogger("ctp10_gui.audio")

BLOCK_FRAMES = 256  # 5.3 ms at 48 kHz: a power change is heard within a few ms plus latency
# Blocks queued in the device (21 ms): with 2 ("low" latency) the GUI thread's painting kept
# the callback from the GIL past the deadline ~3 times a minute; 4 gave none in 60 s and keep
# power step → pitch under 50 ms at p95 (benchmarks/bench_alignment.py).
DEVICE_BLOCKS = 4


class ToneOutput:
    """An output stream that pulls buffers from a ToneSynth in PortAudio's thread."""

    def __init__(self, synth: ToneSynth, *, device: Any = None,
                 on_buffer: Callable[[np.ndarray, float], None] | None = None) -> None:
        """on_buffer(samples, monotonic s when rendered) is called in PortAudio's thread."""
        self.synth = synth
        self.device = device
        self.on_buffer = on_buffer
        self.underruns = 0
        self.unavailable = ""
        self.priority = ""  # what the OS granted PortAudio's callback thread, as a sentence
        self._stream: Any = None

    def start(self) -> bool:
        """Open and start the stream; False (with `unavailable` set) when there is no sound."""
        if self._stream is not None:
            return True
        try:
            import sounddevice
        except (ImportError, OSError) as exc:
            # OSError: the wheel imports but PortAudio is missing (Debian: libportaudio2).
            self.unavailable = (f"No sound: {exc}. Install the 'sounddevice' package "
                                "(and libportaudio2 on Debian/Ubuntu).")
            log.warning("%s", self.unavailable)
            return False
        try:
            stream = sounddevice.OutputStream(
                samplerate=self.synth.sample_rate, channels=1, dtype="float32",
                blocksize=BLOCK_FRAMES, device=self.device,
                latency=DEVICE_BLOCKS * BLOCK_FRAMES / self.synth.sample_rate,
                callback=self._callback)
            stream.start()
        except Exception as exc:  # PortAudioError and friends: no device, busy device...
            self.unavailable = f"No sound device: {exc}"
            log.warning("%s", self.unavailable)
            return False
        self._stream = stream
        self.unavailable = ""
        return True

    def stop(self) -> None:
        """Stop and close the stream (safe to call when it never started)."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.stop()
            stream.close()

    @property
    def running(self) -> bool:
        """Return True while the stream plays."""
        return self._stream is not None

    def _callback(self, outdata: Any, frames: int, _time: Any, status: Any) -> None:
        if not self.priority:
            self.priority = raise_thread_priority()  # PortAudio leaves it ordinary on Linux
        if status and status.output_underflow:
            self.underruns += 1
        out = self.synth.render(frames)
        outdata[:, 0] = out
        if self.on_buffer is not None:
            self.on_buffer(out, time.monotonic())
