"""``python -m papercls``: the ``papercls`` command."""

import sys

from papercls.cli import main

if __name__ == "__main__":
    sys.exit(main())
