"""Run the simulated CTP10: python -m ctp10_gui.simulator [options] (see ctp10-sim)."""

from __future__ import annotations

import sys

from ctp10_gui.simulator.cli import main

sys.exit(main())
