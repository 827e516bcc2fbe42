"""Derived channels: parsing, the math in dB, ratio and mW, and honest out-of-range results."""

from __future__ import annotations

import numpy as np
import pytest

from ctp10_gui.models.derived import ERROR, OK, OVER, UNDER, DerivedChannel, DerivedKind


def _arr(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float64)


def _st(*codes: int) -> np.ndarray:
    return np.array(codes, dtype=np.int8)


def test_parse_the_three_kinds_and_refuse_nonsense() -> None:
    il = DerivedChannel.parse("IL", "CH4 - CH3")
    assert (il.kind, il.a, il.b, il.expression) == (DerivedKind.DIFFERENCE_DB, 4, 3, "CH4 − CH3")
    assert DerivedChannel.parse("r", "ch1/ch2").kind is DerivedKind.RATIO
    assert DerivedChannel.parse("sum", "CH1 + CH2").kind.unit == "mW"
    for bad in ("CH7 - CH1", "CH1 * CH2", "CH1 - CH1", "power"):
        with pytest.raises(ValueError):
            DerivedChannel.parse("x", bad)


def test_difference_is_in_db_and_ratio_and_sum_are_linear() -> None:
    a, b, ok = _arr(-3.0), _arr(-13.0), _st(OK)
    assert DerivedChannel.parse("d", "CH1 - CH2").compute(a, ok, b, ok)[0][0] == 10.0
    ratio = DerivedChannel.parse("r", "CH1 / CH2").compute(a, ok, b, ok)[0][0]
    assert ratio == pytest.approx(10.0)
    total = DerivedChannel.parse("s", "CH1 + CH2").compute(a, ok, b, ok)[0][0]
    assert total == pytest.approx(10 ** -0.3 + 10 ** -1.3)


def test_out_of_range_inputs_give_bounded_statuses_never_made_up_numbers() -> None:
    d = DerivedChannel.parse("IL", "CH1 - CH2")
    a = _arr(-90.0, -5.0, np.nan, -5.0, 12.0, -90.0)
    sa = _st(UNDER, OK, ERROR, OK, OVER, UNDER)
    b = _arr(-5.0, -90.0, -5.0, np.nan, -5.0, -90.0)
    sb = _st(OK, UNDER, OK, ERROR, OK, UNDER)
    values, status = d.compute(a, sa, b, sb)
    assert status.tolist() == [UNDER, OVER, ERROR, ERROR, OVER, ERROR]
    assert np.isnan(values).all()  # no number is shown for a bounded or unknown result


def test_a_sum_ignores_an_under_range_input_but_not_an_error() -> None:
    s = DerivedChannel.parse("sum", "CH1 + CH2")
    values, status = s.compute(_arr(0.0, 0.0, -90.0), _st(OK, OK, UNDER),
                               _arr(-90.0, np.nan, -90.0), _st(UNDER, ERROR, UNDER))
    assert status.tolist() == [OK, ERROR, UNDER]
    assert values[0] == pytest.approx(1.0) and np.isnan(values[1:]).all()
