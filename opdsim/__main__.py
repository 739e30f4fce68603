"""``python -m opdsim``: the same as the ``opdsim`` command."""

from opdsim.cli import main

main()
