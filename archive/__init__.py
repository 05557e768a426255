"""Keeping captured bytes: the data directory (``datadir.Archive``), WARC writing, hashing,
the file store, the catalog, evidence, the WACZ package and watched targets' comparisons.

This package never imports :mod:`capture`; it knows nothing about browsers.
"""

__version__ = "0.1.0"
