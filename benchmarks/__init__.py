"""Benchmarks of opdsim (``make bench``): each module prints figures beside their yardstick, none asserts a time."""

import sys
from collections.abc import Callable


def cli(main: Callable[[], None]) -> None:
    """Run a benchmark's ``main`` as a command: Ctrl-C ends it with status 130 and one line, not a traceback."""
    try:
        main()
    except KeyboardInterrupt:
        print("bench: interrupted; the figures printed so far stand", file=sys.stderr)
        sys.exit(130)
