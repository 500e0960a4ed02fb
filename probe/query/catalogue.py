"""The probe's catalogue of a run, held in memory: concepts → ranked units, unit → labels and statistics."""

from __future__ import annotations

import json
import math
from typing import Any

import fsspec
import numpy as np

from pipeline import storage
from pipeline.errors import InputError
from probe.query import layout
from probe.query.errors import BadQuery, NotFound


def parse_unit(unit: str) -> tuple[str, int]:
    """`LAYER/CHANNEL` → (layer, channel); BadQuery naming the expected form otherwise."""
    layer, sep, channel = unit.rpartition("/")
    if not sep or not layer or not channel.isdigit():
        raise BadQuery(f"not a unit: {unit!r} (expected LAYER/CHANNEL, e.g. conv3/17)")
    return layer, int(channel)


class Catalogue:
    """Rows of `catalog.parquet` grouped by concept and by unit, and per-unit statistics of `units.parquet`."""

    def __init__(self, run_url: str):
        self.run_url = run_url.rstrip("/")
        fs, root = fsspec.core.url_to_fs(self.run_url)
        catalog = _read(fs, root, layout.CATALOG_TABLE, self.run_url).to_pylist()
        units = _read(fs, root, layout.UNITS_TABLE, self.run_url).to_pylist()
        self.by_concept: dict[str, list[dict[str, Any]]] = {}
        self.labels_of: dict[str, list[dict[str, Any]]] = {}
        for row in map(_clean, catalog):
            self.by_concept.setdefault(row["concept"], []).append(row)
            self.labels_of.setdefault(row["unit"], []).append(row)
        for rows in self.by_concept.values():
            rows.sort(key=lambda r: (r.get("rank") is None, r.get("rank"), -(r.get("auc") or 0.0)))
        for rows in self.labels_of.values():
            rows.sort(key=lambda r: -(r.get("auc") or 0.0))
        self.units = {row["unit"]: row for row in map(_clean, units)}
        meta = json.loads(fs.cat_file(f"{root}/{layout.PROBE_JSON}"))
        self.dataset: str = meta["dataset"]
        self.pool: str = meta["pool"]
        self.layers: list[str] = list(meta["layers"])
        self.channels = dict(zip(self.layers, meta["channels"], strict=True))
        # Units in the order of the probe's activation columns (layers in order, channels within).
        self.unit_names = [f"{layer}/{c}" for layer, n in self.channels.items() for c in range(n)]
        missing = [u for u in self.unit_names if u not in self.units]
        if missing:
            raise InputError(
                f"{self.run_url}: {layout.UNITS_TABLE} lacks {len(missing)} units, e.g. {missing[0]}"
            )
        self.mean = np.array([self.units[u]["mean"] for u in self.unit_names], np.float32)
        self.std = np.array([self.units[u]["std"] for u in self.unit_names], np.float32)

    def concepts(self) -> list[dict[str, Any]]:
        """Every concept with its number of units searched, detectors found and the best unit."""
        out = []
        for name, rows in sorted(self.by_concept.items()):
            out.append(
                {
                    "concept": name,
                    "label_source": rows[0].get("label_source"),
                    "units": len(rows),
                    "detectors": sum(bool(r.get("is_detector")) for r in rows),
                    "best": rows[0],
                }
            )
        return out

    def concept_units(self, name: str, top: int) -> list[dict[str, Any]]:
        """The units ranked for concept `name` (best first), with held-out scores and random controls."""
        try:
            return self.by_concept[name][:top]
        except KeyError:
            known = ", ".join(sorted(self.by_concept)) or "none"
            raise NotFound(
                f"unknown concept {name!r}; the catalogue of {self.run_url} has: {known}"
            ) from None

    def unit(self, layer: str, channel: int) -> dict[str, Any]:
        """The statistics row of one unit; NotFound naming the layers and channel range otherwise."""
        if layer not in self.channels:
            known = ", ".join(self.layers) or "none"
            raise NotFound(f"unknown layer {layer!r}; the probe of {self.run_url} covered: {known}")
        if not 0 <= channel < self.channels[layer]:
            raise NotFound(f"layer {layer!r} has channels 0..{self.channels[layer] - 1}, not {channel}")
        return self.units[f"{layer}/{channel}"]

    def unit_labels(self, unit: str) -> list[dict[str, Any]]:
        """The catalogue rows of `unit`: one per concept it was scored against, best AUC first."""
        return self.labels_of.get(unit, [])


def _read(fs, root: str, rel: str, run_url: str):
    try:
        return storage.read_parquet(fs, f"{root}/{rel}")
    except FileNotFoundError:
        raise InputError(f"{run_url} has no {rel}; run `unitscope probe {run_url} DATASET` first") from None


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    """NaN → None, so every row is valid JSON."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
