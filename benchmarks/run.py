"""``python benchmarks/run.py [--quick] [--only training,pipeline] ...``: run the benchmarks.

The code lives in the ``benchmarks`` package (see benchmarks/__init__.py for what each
benchmark measures); ``python -m benchmarks`` does the same.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    # Run as a script, this folder is sys.path[0]: swap it for the repository root so that the
    # package imports as ``benchmarks`` and its modules cannot shadow top-level names.
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    sys.path.insert(0, str(here.parent))

    from benchmarks.cli import main

    sys.exit(main())
