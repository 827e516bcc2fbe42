"""`python -m ctp10_gui`: start the app."""

from __future__ import annotations

import sys

from ctp10_gui.app import main

if __name__ == "__main__":
    sys.exit(main())
