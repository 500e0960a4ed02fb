"""Errors of the query layer that the CLI and the HTTP API turn into messages and status codes."""

from __future__ import annotations

from unitscope.core.errors import InputError


class NotFound(InputError):
    """A concept, unit or frame that the run's catalogue or dataset does not hold."""


class BadQuery(InputError):
    """A query argument that cannot be used (malformed unit, image that cannot be decoded, ...)."""
