"""``python -m archlab``: the same as the ``archlab`` command."""

from archlab.cli import main

main()
