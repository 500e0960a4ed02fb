"""Where the query layer finds the probe's output inside a run directory (names from the probe stage)."""

from __future__ import annotations

PROBE_DIR = "probe"
CATALOG_TABLE = "probe/catalog.parquet"
UNITS_TABLE = "probe/units.parquet"
PROBE_JSON = "probe/probe.json"
FRAME_INDEX = "probe/frames.faiss"
FRAME_INDEX_KEYS = "probe/frames.keys.parquet"
