"""Derived readings fed batch by batch: values, statuses, dB peak and Δ, history, editor text."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ctp10_gui.models.derived import OK, UNDER
from ctp10_gui.models.derived_readings import DerivedReadings, parse_definitions
from ctp10_gui.models.samples import SnapshotBatch


def _batch(t: np.ndarray, ch3: np.ndarray, ch4: np.ndarray,
           status3: int = OK) -> SnapshotBatch:
    v = np.stack([ch3, ch4], axis=1)
    st = np.zeros(v.shape, np.int8)
    st[:, 0] = status3
    v = np.where(st == OK, v, np.nan)
    return SnapshotBatch(4, (3, 4), t, t + 1.7e9, v, st)


def test_parse_one_definition_per_line_and_name_the_bad_line() -> None:
    defs = parse_definitions("IL = CH4 - CH3\n\n total = CH3 + CH4 ")
    assert [(d.name, d.expression) for d in defs] == [("IL", "CH4 − CH3"), ("total", "CH3 + CH4")]
    for text, why in (("IL CH4 - CH3", "line 1: write name = expression"),
                      ("IL = CH4 - CH3\nx = CH4 * CH3", "line 2: 'CH4 * CH3' is not"),
                      ("CH2 = CH4 - CH3", "line 1: 'CH2' is the name of a measured channel"),
                      ("a = CH4 - CH3\na = CH3 - CH4", "line 2: 'a' is defined twice")):
        with pytest.raises(ValueError, match=why.replace("*", r"\*")):
            parse_definitions(text)


def test_a_difference_its_averaged_peak_delta_and_history() -> None:
    readings = DerivedReadings(parse_definitions("IL = CH4 - CH3"))
    t = np.arange(200) / 1000.0
    ch3 = np.full(200, -3.0)
    ch4 = np.where(t < 0.1, -13.0, -11.0)  # the loss improves from 10 to 8 dB
    readings.apply(_batch(t, ch3, ch4))
    r = readings.reading("IL")
    assert r.value == pytest.approx(-8.0) and r.status == OK
    assert r.peak_db == pytest.approx(-8.0) and r.delta_to_peak_db() == pytest.approx(0.0)
    readings.apply(_batch(np.array([0.3, 0.4]), np.array([-3.0, -3.0]),
                          np.array([-12.0, -12.0])))
    assert readings.reading("IL").delta_to_peak_db() == pytest.approx(-1.0)
    ht, hy = readings.history("IL")
    assert len(ht) == 202 and hy[-1] == pytest.approx(-9.0)


def test_under_range_input_gives_a_status_and_no_number() -> None:
    readings = DerivedReadings(parse_definitions("r = CH4 / CH3"))
    readings.apply(_batch(np.array([1.0]), np.array([-3.0]), np.array([-6.0]), status3=UNDER))
    r = readings.reading("r")
    assert math.isnan(r.value) and r.status is not None and r.status != OK
    assert r.delta_to_peak_db() is None
    with pytest.raises(KeyError):
        readings.reading("nope")
