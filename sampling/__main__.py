"""``python -m sampling`` runs the ``equisample`` command line."""

from .cli import main

raise SystemExit(main())
