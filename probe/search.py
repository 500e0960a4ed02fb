"""FAISS unit search: which units' response profiles correlate best with a concept's label vector.

Each unit's responses over the labelled frames are centred and scaled to unit length (a z-score
divided by sqrt(n)); a concept's label vector gets the same treatment, so their inner product is the
Pearson correlation. FAISS finds the largest inner products; the candidates are then re-scored
exactly from the raw activations, so approximation can only change which candidates are looked at,
never the numbers reported.

Index choice (recorded in probe.json): up to `EXACT_MAX_UNITS` units an exact `IndexFlatIP`, which
holds a float32 copy of every profile (100,000 units x 10,000 frames: 4 GB); above it an approximate
`IndexScalarQuantizer` (8-bit codes per coordinate, inner product) in a quarter of that, scanned in
full, whose `RESCORE_FACTOR` x k best candidates are re-scored exactly from the raw float16 activations
(`tests/probe/test_search.py` holds recall@10 >= 0.95). Measured and rejected here: IVF (a concept's
label vector correlates weakly with every unit, r ~ 0.1-0.5, so the coarse quantiser routes queries to
the wrong lists: recall@10 0.56-0.92), HNSW (building a graph over 10,000-dimensional vectors costs
more than scanning them for a handful of queries), and projections onto principal directions (a
concept detector is a rare direction, one unit among thousands, that PCA drops: recall@10 0.0).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import faiss
import numpy as np

EXACT_MAX_UNITS = 100_000
# Candidates fetched from the approximate index per requested result, then re-scored exactly.
RESCORE_FACTOR = 20
MIN_CANDIDATES = 200
BLOCK_VALUES = 2**21  # floats converted at a time (8 MB of float32: the transposing cast stays in cache)


def unit_vectors(x: np.ndarray) -> np.ndarray:
    """Columns of `x` (frames x units) as rows of a float32 matrix, centred and of unit length.

    A constant column (a dead unit, or a label present everywhere) becomes all zeros: it correlates
    with nothing."""
    block = np.asarray(x).T.astype(np.float32)  # (units, frames), a copy
    block -= block.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(block, axis=1, keepdims=True)
    np.divide(block, norm, out=block, where=norm > 0)
    block[norm[:, 0] == 0] = 0.0
    return block


def unit_blocks(x: np.ndarray) -> Iterator[np.ndarray]:
    """`unit_vectors` of `x`, a block of units at a time (so no float32 copy of all of `x` is made)."""
    step = max(1, BLOCK_VALUES // max(1, x.shape[0]))
    for j in range(0, x.shape[1], step):
        yield unit_vectors(x[:, j : j + step])


def correlations(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Exact Pearson correlation of every column of `x` with every column of `labels`: (units, queries)."""
    return unit_vectors(x) @ unit_vectors(labels).T


@dataclass
class IndexChoice:
    kind: str  # "flat" (exact) or "sq8" (approximate)
    n_units: int
    n_frames: int
    candidates_per_result: int = 0  # approximate: candidates re-scored exactly per result

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def choose_index(n_units: int, n_frames: int, exact_max_units: int = EXACT_MAX_UNITS) -> IndexChoice:
    """Exact search up to `exact_max_units` units, 8-bit codes with exact re-scoring above."""
    if n_units <= exact_max_units:
        return IndexChoice("flat", n_units, n_frames)
    return IndexChoice("sq8", n_units, n_frames, RESCORE_FACTOR)


def _flat_index(acts: np.ndarray) -> faiss.IndexFlatIP:
    """An exact inner-product index of every unit's profile.

    Its storage is sized once and the profiles are written straight into it (an IndexFlat's codes are
    its float32 vectors, row after row); `add` would grow the buffer block by block, copying it again at
    each doubling (measured: a fifth of the build time at 50,000 units x 10,000 frames)."""
    n_frames, n_units = acts.shape
    index = faiss.IndexFlatIP(n_frames)
    nbytes = n_units * n_frames * 4
    index.codes.resize(nbytes)
    rows = faiss.rev_swig_ptr(index.codes.data(), nbytes).view(np.float32).reshape(n_units, n_frames)
    start = 0
    for block in unit_blocks(acts):
        rows[start : start + len(block)] = block
        start += len(block)
    index.ntotal = n_units
    return index


class UnitIndex:
    """Unit profiles over one set of frames, indexed for correlation search, with exact re-scoring."""

    def __init__(self, acts: np.ndarray, exact_max_units: int = EXACT_MAX_UNITS, seed: int = 0):
        self.acts = acts  # raw activations (frames x units), kept for exact re-scoring
        n_frames, n_units = acts.shape
        self.choice = choose_index(n_units, n_frames, exact_max_units)
        if self.choice.kind == "flat":
            self.index = _flat_index(acts)
        else:
            self.index = faiss.IndexScalarQuantizer(
                n_frames, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
            )
            rng = np.random.default_rng(seed)
            sample = np.sort(rng.choice(n_units, min(n_units, 4096), replace=False))
            self.index.train(unit_vectors(acts[:, sample]))
            for block in unit_blocks(acts):
                self.index.add(block)

    def search(self, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-`k` units by correlation with each label column: (corr, unit ids), each (queries, k)."""
        labels = np.asarray(labels)
        if labels.ndim == 1:
            labels = labels[:, None]
        q = unit_vectors(labels)
        k = min(k, self.choice.n_units)
        if self.choice.kind == "flat":
            return self.index.search(q, k)
        n_cand = min(self.choice.n_units, max(MIN_CANDIDATES, RESCORE_FACTOR * k))
        _, cand = self.index.search(q, n_cand)
        out_c = np.empty((len(q), k), dtype=np.float32)
        out_i = np.empty((len(q), k), dtype=np.int64)
        for i in range(len(q)):
            ids = np.unique(cand[i][cand[i] >= 0])
            exact = unit_vectors(self.acts[:, ids]) @ q[i]
            top = np.argsort(-exact, kind="stable")[:k]
            out_c[i], out_i[i] = exact[top], ids[top]
        return out_c, out_i
