"""Run every benchmark, each in its own process so CPU and memory numbers do not mix.

Usage: python -m benchmarks [name ...]   (names: acquisition, strip_chart, trace, recording,
ring_buffer, alignment, stream; none = all). Set QT_QPA_PLATFORM=offscreen without a display.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
ORDER = ("acquisition", "strip_chart", "trace", "recording", "ring_buffer", "alignment", "stream")


def main(argv: list[str] | None = None) -> int:
    """Run the named benchmarks (all by default); return non-zero if any failed."""
    names = list(argv if argv is not None else sys.argv[1:]) or list(ORDER)
    unknown = [n for n in names if not (HERE / f"bench_{n}.py").exists()]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(ORDER)}")
        return 2
    env = {**os.environ}
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    failed: list[str] = []
    for name in names:
        print(f"\n===== bench_{name} =====", flush=True)
        start = time.monotonic()
        rc = subprocess.call([sys.executable, str(HERE / f"bench_{name}.py")], env=env)
        print(f"----- bench_{name}: exit {rc} after {time.monotonic() - start:.0f} s", flush=True)
        if rc != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
