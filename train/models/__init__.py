"""Encoder kinds, one module each (found by name in `registry`)."""
