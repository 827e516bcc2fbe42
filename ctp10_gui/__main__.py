"""`python -m ctp10_gui` and the ctp10-gui command: check Qt's system libraries, then run."""

from __future__ import annotations

import multiprocessing
import sys

from ctp10_gui.display_check import qt_core_problem


def main() -> int:
    """Run the app; exit status 2 with a plain sentence when Qt's system libraries are missing."""
    # A frozen build (packaging/) starts the tone's process from this executable: let it run
    # the child's code instead of a second app.
    multiprocessing.freeze_support()
    # Importing Qt without its system libraries fails with a misleading ImportError (pyqtgraph
    # names no library): say which packages to install before anything imports Qt.
    problem = qt_core_problem()
    if problem is not None:
        if sys.stderr is not None:
            print(problem, file=sys.stderr)
        return 2
    from ctp10_gui.app import main as run_app

    return run_app()


if __name__ == "__main__":
    sys.exit(main())
