"""Per-unit statistics over every stored frame, streamed chunk by chunk: mean, std, top frames, histogram.

Two passes over the store, each holding one chunk plus O(units x top) state: the first gathers moments,
range and a running top-k per unit; the second histograms each unit between its own min and max.
"""

from __future__ import annotations

import numpy as np
from unitscope.probe.catalog import unit_name
from unitscope.probe.store import ActivationStore


class TopK:
    """The k largest values per column seen so far, with the keys of their rows. Only the keys the table
    points at are kept (at most k x columns), not every key seen: those were 80 MB at a million frames."""

    def __init__(self, n_cols: int, k: int):
        self.k = k
        self.keys: list[str] = []
        self.values = np.full((0, n_cols), -np.inf, dtype=np.float32)
        self.rows = np.empty((0, n_cols), dtype=np.int64)  # indices into self.keys

    def update(self, values: np.ndarray, keys: list[str]) -> None:
        base = len(self.keys)
        vals = np.concatenate([self.values, values.astype(np.float32)])
        fresh = np.broadcast_to(np.arange(base, base + len(keys))[:, None], values.shape)
        rows = np.concatenate([self.rows, fresh])
        if len(vals) > self.k:
            idx = np.argpartition(-vals, self.k - 1, axis=0)[: self.k]
            vals = np.take_along_axis(vals, idx, axis=0)
            rows = np.take_along_axis(rows, idx, axis=0)
        used = np.unique(rows)
        seen = self.keys + keys
        self.keys = [seen[i] for i in used]
        self.values, self.rows = vals, np.searchsorted(used, rows)

    def sorted(self) -> tuple[np.ndarray, list[list[str]]]:
        """Values (k, cols), best first, and per column the keys of those rows."""
        order = np.argsort(-self.values, axis=0, kind="stable")
        rows = np.take_along_axis(self.rows, order, 0)
        return np.take_along_axis(self.values, order, 0), [[self.keys[r] for r in col] for col in rows.T]


def column_top(store: ActivationStore, kind: str, columns: list[int], k: int) -> list[list[str]]:
    """Top-`k` frame keys of a few columns of network `kind` (e.g. the random control's chosen units)."""
    top = TopK(len(columns), k)
    for keys, arr in store.iter_chunks(kind):
        top.update(arr[:, columns], keys)
    return top.sorted()[1]


def unit_rows(store: ActivationStore, units: list[tuple[str, int]], top_k: int, bins: int) -> list[dict]:
    """One row of `UNITS_SCHEMA` per unit of the trained encoder."""
    n = 0
    total = total_sq = lo = hi = None
    top = TopK(len(units), top_k)
    for keys, arr in store.iter_chunks("trained"):
        a = arr.astype(np.float64)
        if total is None:
            total, total_sq = np.zeros(a.shape[1]), np.zeros(a.shape[1])
            lo, hi = np.full(a.shape[1], np.inf), np.full(a.shape[1], -np.inf)
        n += len(a)
        total += a.sum(0)
        total_sq += (a * a).sum(0)
        lo, hi = np.minimum(lo, a.min(0)), np.maximum(hi, a.max(0))
        top.update(arr, keys)
    if total is None:
        return []
    mean = total / n
    std = np.sqrt(np.maximum(total_sq / n - mean * mean, 0.0))
    width = np.where(hi > lo, (hi - lo) / bins, 1.0)
    counts = np.zeros((len(units), bins), dtype=np.int64)
    cols = np.arange(len(units))
    for _, arr in store.iter_chunks("trained"):
        b = np.clip(((arr.astype(np.float64) - lo) / width).astype(np.int64), 0, bins - 1)
        counts += np.bincount((cols * bins + b).ravel(), minlength=len(units) * bins).reshape(
            len(units), bins
        )
    values, top_keys = top.sorted()
    return [
        {
            "unit": unit_name(layer, ch),
            "layer": layer,
            "channel": ch,
            "mean": float(mean[j]),
            "std": float(std[j]),
            "top_keys": top_keys[j],
            "top_values": values[:, j].astype(np.float64).tolist(),
            "hist_counts": counts[j].tolist(),
            "hist_edges": (lo[j] + width[j] * np.arange(bins + 1)).tolist(),
        }
        for j, (layer, ch) in enumerate(units)
    ]
