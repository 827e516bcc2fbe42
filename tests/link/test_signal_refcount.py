"""Guard against the PySide6 6.12.0 regression that drops a reference to True on every emit.

On Python 3.11 True and None are ordinary refcounted objects: a binding that loses one reference
per Signal.emit() makes the interpreter abort in bool_dealloc after enough emits. 6.11.x is clean;
this test fails on a release that brings the bug back.
"""

from __future__ import annotations

import gc
import sys

from PySide6.QtCore import QObject, Signal

N = 10_000


class _Emitter(QObject):
    flag = Signal(bool)
    pair = Signal(bool, object)


def _refcounts() -> tuple[int, int, int]:
    gc.collect()
    return sys.getrefcount(True), sys.getrefcount(False), sys.getrefcount(None)


def test_emitting_bools_and_reading_properties_keeps_the_refcounts(qapp) -> None:
    emitter = _Emitter()
    received: list[int] = []
    emitter.flag.connect(lambda on: received.append(1 if on else 0))
    emitter.pair.connect(lambda on, obj: received.append(2 if obj is None else 3))
    emitter.setProperty("live", True)
    before = _refcounts()
    for i in range(N):
        emitter.flag.emit(i % 2 == 0)
        emitter.pair.emit(True, None)
        assert emitter.property("live") is True
    after = _refcounts()
    assert len(received) == 2 * N
    assert sum(received) == N // 2 + 2 * N
    # A leak would raise these (harmless); the regression makes them fall by about N.
    assert all(a >= b for a, b in zip(after, before, strict=True)), (before, after)
