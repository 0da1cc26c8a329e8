"""``python -m banron.cli``: the same as the ``banron`` command."""

from banron.cli import main

main()  # pragma: no cover
