"""Fixtures of the link tests: a controller factory and the GUI-gap meter."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from gui_gap_probe import GUI_GAP_LIMIT_S, GapMeter
from link_helpers import FAST_BACKOFF

from ctp10_gui.link.controller import LinkController
from ctp10_gui.models.connection import AcquisitionSettings, BackoffPolicy


@pytest.fixture
def gui_gaps(qapp) -> Iterator[GapMeter]:
    """Measure the GUI event loop's longest stall during the test and fail above 100 ms.

    The objects alive now are frozen out of the garbage collector first: a full collection
    of the million objects a pytest process holds stops every thread for 50–110 ms (measured
    here), which says nothing about the link. The app can do the same: gc.freeze() once
    started (suggested for app.py).
    """
    gc.collect()
    gc.freeze()
    meter = GapMeter()
    yield meter
    gap = meter.stop()
    gc.unfreeze()
    assert gap < GUI_GAP_LIMIT_S, (
        f"GUI event loop blocked for {gap * 1000:.0f} ms, {meter.worst_at - meter.started:.3f} s "
        "into the test")


@pytest.fixture
def make_controller(qapp) -> Iterator[Callable[..., LinkController]]:
    """Build LinkControllers with fast backoff by default; shut each down after the test."""
    made: list[LinkController] = []

    def make(backoff: BackoffPolicy | None = FAST_BACKOFF, driver_factory: Any = None,
             **settings: Any) -> LinkController:
        if backoff is not None:
            settings["backoff"] = backoff
        controller = LinkController(AcquisitionSettings(**settings),
                                    driver_factory=driver_factory)
        made.append(controller)
        return controller

    yield make
    for controller in made:
        controller.shutdown()
