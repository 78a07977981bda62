"""``python -m sampling`` runs the ``equisample`` command line."""

from sampling.cli._main import main

if __name__ == "__main__":  # not when imported (e.g. by the API docs' inspection)
    raise SystemExit(main())
