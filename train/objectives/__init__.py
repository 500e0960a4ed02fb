"""Unsupervised objectives, one module each, found by name in `registry`."""
