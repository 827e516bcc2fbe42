"""Fixtures of the procedure replay tests."""

from __future__ import annotations

import pytest
from procedure_helpers import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    """Return a fresh fake clock at 0 s."""
    return FakeClock()
