"""Ask the OS to run the calling audio thread ahead of ordinary work, as sound servers do.

A block of the tone must be rendered within the device's buffering (about 21 ms); on a busy
machine an ordinary thread waits longer than that for a core now and then. Linux grants a
real-time policy to privileged processes or within RLIMIT_RTPRIO; Windows raises a thread's
priority within the process's class without rights. Where the OS refuses, the thread stays as
it is and the returned sentence says so.
"""

from __future__ import annotations

import os
import sys

RT_PRIORITY = 10  # low among real-time priorities (1–99): above every ordinary thread only


def raise_thread_priority() -> str:
    """Raise the calling thread's scheduling priority; return what was done, as a sentence."""
    if sys.platform == "win32":
        import ctypes

        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined,unused-ignore]
        time_critical = 15
        if kernel32.SetThreadPriority(kernel32.GetCurrentThread(), time_critical):
            return "audio thread at time-critical priority"
        return "audio thread at normal priority (Windows refused a higher one)"
    if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_FIFO"):
        try:
            # pid 0 is the calling thread on Linux (the policy is per thread).
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(RT_PRIORITY))
        except OSError as exc:
            return f"audio thread at normal priority (no real-time scheduling: {exc.strerror})"
        return f"audio thread real-time (SCHED_FIFO {RT_PRIORITY})"
    return "audio thread at normal priority (no real-time scheduling on this system)"
