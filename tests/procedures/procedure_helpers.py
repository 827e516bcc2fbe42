"""Shared pieces of the procedure replay tests: a fake clock and the usual SCPI pairs."""

from __future__ import annotations

COND = ":STAT:OPER:COND?"
OK = ("SYST:ERR?", "0,No error")


class FakeClock:
    """Monotonic time that only moves when the driver sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
