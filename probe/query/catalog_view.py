"""The probe's catalogue of a run, held in memory: concepts → ranked units, unit → labels and statistics."""

from __future__ import annotations

import difflib
import json
import math
from typing import Any

import numpy as np
from unitscope.probe.catalog import CATALOG_TABLE, PROBE_JSON, UNITS_TABLE
from unitscope.probe.detector import DetectorRule
from unitscope.probe.query.errors import BadQuery, NotFound

from unitscope.core import storage
from unitscope.core.errors import InputError


def parse_unit(unit: str) -> tuple[str, int]:
    """`LAYER/CHANNEL` → (layer, channel); BadQuery naming the expected form otherwise."""
    layer, sep, channel = unit.rpartition("/")
    if not sep or not layer or not channel.isdigit():
        raise BadQuery(f"not a unit: {unit!r} (expected LAYER/CHANNEL, e.g. conv3/17)")
    return layer, int(channel)


class CatalogView:
    """Rows of `catalog.parquet` grouped by concept and by unit, and per-unit statistics of `units.parquet`."""

    def __init__(self, run_url: str):
        self.run_url = run_url.rstrip("/")
        self._fs, self._root = storage.url_to_fs(self.run_url)
        try:
            meta = json.loads(self._fs.cat_file(storage.join(self._root, PROBE_JSON)))
        except FileNotFoundError:
            raise InputError(
                f"{self.run_url} has no {PROBE_JSON}; run `unitscope probe {self.run_url} DATASET` first"
            ) from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise storage.damaged(storage.join(self.run_url, PROBE_JSON), exc) from exc
        self._digests: dict[str, str] = meta.get("sha256") or {}  # recorded by the probe that wrote them
        catalog = self._read(CATALOG_TABLE).to_pylist()
        units = self._read(UNITS_TABLE).to_pylist()
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
        self.dataset: str = meta["dataset"]
        self.pool: str = meta["pool"]
        self.rule = DetectorRule.from_dict(meta.get("detector_rule"))  # the thresholds this probe applied
        self.layers: list[str] = list(meta["layers"])
        self.channels = dict(zip(self.layers, meta["channels"], strict=True))
        # Units in the order of the probe's activation columns (layers in order, channels within).
        self.unit_names = [f"{layer}/{c}" for layer, n in self.channels.items() for c in range(n)]
        missing = [u for u in self.unit_names if u not in self.units]
        if missing:
            raise InputError(f"{self.run_url}: {UNITS_TABLE} lacks {len(missing)} units, e.g. {missing[0]}")
        self.mean = np.array([self.units[u]["mean"] for u in self.unit_names], np.float32)
        self.std = np.array([self.units[u]["std"] for u in self.unit_names], np.float32)

    def _read(self, rel: str):
        path = storage.join(self._root, rel)
        try:
            if want := self._digests.get(rel):  # a Parquet footer has no checksum of its own
                fix = f"run `unitscope probe {self.run_url} DATASET` again"
                storage.check_digest(storage.join(self.run_url, rel), self._fs.cat_file(path), want, fix)
            return storage.read_parquet(self._fs, path)
        except FileNotFoundError:
            raise InputError(
                f"{self.run_url} has no {rel}; run `unitscope probe {self.run_url} DATASET` first"
            ) from None

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

    def concept_name(self, name: str) -> str:
        """The catalogue's spelling of concept `name`, matched regardless of case (`Person` finds
        `person`); NotFound naming the known concepts and the closest one otherwise."""
        if name in self.by_concept:
            return name
        same = [c for c in self.by_concept if c.casefold() == name.casefold()]
        if len(same) == 1:
            return same[0]
        known = ", ".join(sorted(self.by_concept)) or "none"
        close = difflib.get_close_matches(name.casefold(), [c.casefold() for c in self.by_concept], n=1)
        hint = (
            f" (did you mean {next(c for c in self.by_concept if c.casefold() == close[0])!r}?)"
            if close
            else ""
        )
        raise NotFound(f"unknown concept {name!r}{hint}; the catalogue of {self.run_url} has: {known}")

    def concept_units(self, name: str, top: int) -> list[dict[str, Any]]:
        """The units ranked for concept `name` (best first), with held-out scores and random controls."""
        return self.by_concept[self.concept_name(name)][:top]

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


# Why a score of the catalogue is null in JSON (JavaScript's JSON.parse rejects NaN and Infinity).
WHY_NULL = {
    "threshold": "no threshold beat answering 'no' on the selection half: the unit never calls a frame "
    "positive (threshold +inf), and its accuracy is the share of negatives",
    "p_value": "no permutation null was run (permutations = 0)",
    "random_auc": "no random-weights control was run",
    "random_linear_auc": "no random-weights control was run",
    "linear_auc": "the linear probe could not be fitted",
}
LOC_WHY = "no boxes of the concept on the held-out frames scored (or localization was off)"


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    """Non-finite floats (NaN, ±inf) → None, so every row is valid JSON, with `why_null` saying why."""
    out, why = {}, {}
    for k, v in row.items():
        if isinstance(v, float) and not math.isfinite(v):
            out[k] = None
            why[k] = WHY_NULL.get(k, LOC_WHY if "pointing" in k or "iou" in k else "not computed")
        else:
            out[k] = v
    if why:
        out["why_null"] = why
    return out
