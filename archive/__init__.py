"""Keeping captured bytes: WARC writing, hashing, the file store and the catalog.

This package never imports :mod:`capture`; it knows nothing about browsers.
"""

__version__ = "0.1.0"
