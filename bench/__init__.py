"""Benchmarks of osint-capture (``make bench``): never part of the test suite.

Each module measures one thing against a baseline taken in the same run on the
same machine, so the ratios mean something on any computer; :mod:`bench.runner`
prints the table and merges the figures into ``bench/results.json``.
"""
