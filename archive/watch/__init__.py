"""Watched targets: what a sealed capture showed, and how it differs from the one before."""
