"""The ``equisample`` command line: one module per command, loaded lazily by a registry."""

from sampling.cli._main import COMMANDS, build_parser, main

__all__ = ["COMMANDS", "build_parser", "main"]
