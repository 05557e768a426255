"""The ``osint-capture`` command line: its parser, and one module per command group."""

from capture.cli.entry import build_parser, main

__all__ = ["build_parser", "main"]
