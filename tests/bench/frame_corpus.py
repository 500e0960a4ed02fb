"""Synthetic frame embeddings with structure, written as the probe's activation store, fast at 10M frames.

A mixture of `clusters` Gaussian clusters, each stretched along one of 16 shared low-rank bases at its
own spread, plus a little isotropic noise: uniform noise would make every index look bad. Chunks are
drawn and written whole (NumPy float32 draws, one matrix product per basis), and a chunk the store
already holds is kept, so an interrupted build resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
from unitscope.probe.store import EMBEDDINGS, ActivationStore

CHUNK = 100_000  # frames a store chunk (100 MB of float32 at 256 dimensions)
BASES = 16

Draw = Callable[[int, np.random.Generator], np.ndarray]


def mixture(dim: int, clusters: int, seed: int = 0) -> Draw:
    """A function (rows, rng) -> (rows, dim) float32 embeddings of the mixture: centres, and per cluster
    one of 16 shared bases of 16 axes (scales falling as 1/sqrt(j)) at its own spread."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim)).astype(np.float32)
    bases = rng.normal(size=(BASES, 16, dim)).astype(np.float32) / np.sqrt(dim)
    bases *= (1 / np.sqrt(np.arange(1, 17)))[None, :, None].astype(np.float32)
    spread = rng.uniform(2.0, 5.0, clusters).astype(np.float32)

    def draw(rows: int, rng: np.random.Generator) -> np.ndarray:
        which = rng.integers(0, clusters, rows)
        out = rng.standard_normal((rows, dim), dtype=np.float32)
        out *= 0.15
        out += centres[which]
        for b in range(BASES):
            sel = np.flatnonzero(which % BASES == b)
            z = rng.standard_normal((len(sel), 16), dtype=np.float32) * spread[which[sel], None]
            out[sel] += z @ bases[b]
        return out

    return draw


def write_store(run: str, keys: pa.Array, draw: Draw, seed: int = 1) -> int:
    """The store's embeddings of `keys` (in that order), `CHUNK` frames a chunk; chunks already committed
    are kept. Each chunk has its own generator, so a resumed build writes what a whole one would have.
    Returns the chunks written now."""
    store = ActivationStore(run)
    written = 0
    for shard, start in enumerate(range(0, len(keys), CHUNK)):
        if store.has_chunk(shard):
            continue
        part = keys.slice(start, CHUNK)
        emb = draw(len(part), np.random.default_rng([seed, shard]))
        store.write_chunk(shard, part, {EMBEDDINGS: emb})
        written += 1
    return written
