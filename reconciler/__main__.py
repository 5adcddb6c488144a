"""``python -m reconciler`` is the same as the ``fleet`` console script."""

from reconciler.cli import main

main()
