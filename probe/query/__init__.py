"""Queries over a probed run: concept → units, unit → frames, image → units and nearest frames."""

from unitscope.probe.query.catalog_view import parse_unit
from unitscope.probe.query.errors import BadQuery, NotFound
from unitscope.probe.query.service import RunQueries

__all__ = ["BadQuery", "NotFound", "RunQueries", "parse_unit"]
