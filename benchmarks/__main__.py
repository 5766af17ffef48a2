"""``python -m benchmarks``: the same as ``python benchmarks/run.py``."""

import sys

from benchmarks.cli import main

sys.exit(main(command="python -m benchmarks"))
