"""The stages of one capture, each a function returning a frozen, typed result."""
