"""What a run already knows about one unit, read without a pass over the corpus: its catalogue rows, its
stored top frames, and a bounded sample of stored activations for the reference line (the unit's
response to frames without its concept) and for the random-weights control's best frames."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
from unitscope.probe.catalog import PROBE_JSON
from unitscope.probe.query.service import RunQueries
from unitscope.probe.store import ActivationStore

from unitscope.core import storage
from unitscope.core.errors import InputError

LABEL_FIELDS = ("concept", "label_source", "rank", "auc", "accuracy", "select_auc", "threshold",
                "random_auc", "random_unit", "p_value", "linear_auc", "is_detector")  # fmt: skip


@dataclass
class Sample:
    """Stored responses of one column over the first chunks of the store (at most `cap` frames)."""

    keys: list[str]
    values: np.ndarray
    negative: np.ndarray  # bool: the frame does not show the concept (by the dataset's labels)

    def reference(self, percentile: float) -> float | None:
        v = self.values[self.negative]
        return float(np.percentile(v, percentile)) if len(v) else None

    def top(self, k: int) -> list[str]:
        return [self.keys[i] for i in np.argsort(-self.values, kind="stable")[:k]]


@dataclass
class Evidence:
    layer: str
    channel: int
    labels: list[dict]  # catalogue rows of the unit, best AUC first
    concept: str | None  # the concept of its best row, whose absence makes a negative frame
    top: list[tuple[str, float]]  # stored top frames (key, activation), best first
    control: str  # the random-weights unit it is compared with
    seed: int  # the probe's seed: the control network's weights
    pool: str
    sample: Sample | None = None
    control_sample: Sample | None = None  # None when the probe stored no control activations
    notes: list[str] = field(default_factory=list)

    @property
    def unit(self) -> str:
        return f"{self.layer}/{self.channel}"


def probe_meta(q: RunQueries) -> dict:
    fs, root = storage.url_to_fs(q.run_url)
    return json.loads(fs.cat_file(storage.join(root, PROBE_JSON)))


def gather(q: RunQueries, layer: str, channel: int, cap: int) -> Evidence:
    """The evidence on `layer/channel` (NotFound when the probe has no such unit)."""
    row = q.catalog.unit(layer, channel)
    labels = [{k: _finite(r.get(k)) for k in LABEL_FIELDS} for r in q.catalog.unit_labels(row["unit"])]
    best = labels[0] if labels else None
    control = (best or {}).get("random_unit") or row["unit"]
    meta = probe_meta(q)
    ev = Evidence(
        layer=layer,
        channel=channel,
        labels=labels,
        concept=best["concept"] if best else None,
        top=list(zip(row["top_keys"], row["top_values"], strict=False)),
        control=control,
        seed=int(meta.get("config", {}).get("seed", 0)),
        pool=q.catalog.pool,
    )
    store = ActivationStore(q.run_url)
    stored = store.read_meta()
    if stored is None:
        raise InputError(f"{q.run_url} has no stored activations; re-run `unitscope probe` on it")
    units = [f"{a}/{b}" for a, b in stored.units]
    cols = {"trained": units.index(ev.unit), "random": units.index(control) if control in units else None}
    keys: list[str] = []
    values: dict[str, list[np.ndarray]] = {"trained": [], "random": []}
    has_random = True
    for shard in store.shards():
        keys += store.keys(shard)
        values["trained"].append(store.chunk("trained", shard)[:, cols["trained"]].astype(np.float64))
        try:
            if cols["random"] is not None and has_random:
                values["random"].append(store.chunk("random", shard)[:, cols["random"]].astype(np.float64))
        except FileNotFoundError:
            has_random = False
        if len(keys) >= cap:
            break
    keys = keys[:cap]
    negative = negatives(q, keys, ev.concept)
    ev.sample = Sample(keys, np.concatenate(values["trained"])[:cap], negative)
    if has_random and values["random"]:
        ev.control_sample = Sample(keys, np.concatenate(values["random"])[:cap], negative)
    if ev.concept and not negative.any():
        ev.notes.append(f"no sampled frame lacks {ev.concept!r}: the reference line uses every frame")
        ev.sample.negative[:] = True
    return ev


def _finite(v):
    """JSON has no infinity: a threshold that never fires is written as null."""
    return None if isinstance(v, float) and not np.isfinite(v) else v


def negatives(q: RunQueries, keys: list[str], concept: str | None) -> np.ndarray:
    """Whether each frame lacks `concept` in the dataset's labels (all True without a concept)."""
    if concept is None:
        return np.ones(len(keys), bool)
    lookup = q.frames.lookup
    rows = lookup.rows(keys)
    return np.array([r < 0 or concept not in (lookup.value("labels", int(r)) or ()) for r in rows], bool)
