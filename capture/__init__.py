"""Getting the bytes: the browser, the recorder, behaviours, derived records, the CLI."""

from archive import __version__

__all__ = ["__version__"]
