"""FAISS unit search: which units' response profiles correlate best with a concept's label vector.

Each unit's responses over the labelled frames are centred and scaled to unit length (a z-score
divided by sqrt(n)); a concept's label vector gets the same treatment, so their inner product is the
Pearson correlation. FAISS finds the largest inner products; the candidates are then re-scored
exactly from the raw activations, so approximation can only change which candidates are looked at,
never the numbers reported.

Index choice (recorded in probe.json): up to `EXACT_MAX_UNITS` units an exact `IndexFlatIP` over the
full profiles; above it an approximate index: the profiles projected onto their `PROJECTED_DIMS`
principal frame-space directions (randomized PCA) inside a FAISS `IndexPreTransform` over an
`IndexFlatIP`. It holds n_frames / PROJECTED_DIMS times less than a flat copy and is searched that much
faster; `RESCORE_FACTOR` x k candidates are re-scored exactly. Unit profiles are strongly correlated
(units share inputs), so few directions carry them: `tests/probe/test_search.py` holds recall@10 >= 0.95.
IVF and HNSW were measured and rejected here: a concept's label vector correlates weakly (r ~ 0.1-0.5)
with every unit, and coarse quantisers then route queries to the wrong lists (recall@10 0.56-0.92).
"""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np

EXACT_MAX_UNITS = 20_000
# The approximate index: unit profiles projected onto this many principal frame-space directions.
PROJECTED_DIMS = 128
# Candidates fetched from the approximate index per requested result, then re-scored exactly.
RESCORE_FACTOR = 20
MIN_CANDIDATES = 200


def unit_vectors(x: np.ndarray) -> np.ndarray:
    """Columns of `x` (frames x units) as rows of a float32 matrix, centred and of unit length.

    A constant column (a dead unit, or a label present everywhere) becomes all zeros: it correlates
    with nothing."""
    x = np.asarray(x, dtype=np.float32)
    out = np.empty((x.shape[1], x.shape[0]), dtype=np.float32)
    step = max(1, 2**24 // max(1, x.shape[0]))  # about 64 MB of float32 at a time
    for j in range(0, x.shape[1], step):
        block = x[:, j : j + step].T.astype(np.float32)
        block -= block.mean(axis=1, keepdims=True)
        norm = np.linalg.norm(block, axis=1, keepdims=True)
        np.divide(block, norm, out=block, where=norm > 0)
        block[norm[:, 0] == 0] = 0.0
        out[j : j + step] = block
    return out


def correlations(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Exact Pearson correlation of every column of `x` with every column of `labels`: (units, queries)."""
    return unit_vectors(x) @ unit_vectors(labels).T


@dataclass
class IndexChoice:
    kind: str  # "flat" (exact) or "rpca-flat" (approximate)
    n_units: int
    n_frames: int
    dims: int = 0  # projected dimension of the approximate index
    candidates_per_result: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def choose_index(n_units: int, n_frames: int, exact_max_units: int = EXACT_MAX_UNITS) -> IndexChoice:
    """Exact search up to `exact_max_units` units, a projected approximate index above."""
    if n_units <= exact_max_units or n_frames <= PROJECTED_DIMS:
        return IndexChoice("flat", n_units, n_frames)
    return IndexChoice("rpca-flat", n_units, n_frames, PROJECTED_DIMS, RESCORE_FACTOR)


def _principal_frames(vecs: np.ndarray, dims: int, seed: int) -> np.ndarray:
    """An orthonormal basis (frames x dims) of the frame-space directions the unit profiles span most:
    a randomized range finder with one power iteration (Halko et al. 2011)."""
    rng = np.random.default_rng(seed)
    omega = rng.standard_normal((vecs.shape[0], dims + 16)).astype(np.float32)
    basis, _ = np.linalg.qr(vecs.T @ omega)
    basis, _ = np.linalg.qr(vecs.T @ (vecs @ basis))
    return np.ascontiguousarray(basis[:, :dims], dtype=np.float32)


class UnitIndex:
    """Unit profiles over one set of frames, indexed for correlation search, with exact re-scoring."""

    def __init__(self, acts: np.ndarray, exact_max_units: int = EXACT_MAX_UNITS, seed: int = 0):
        self.acts = acts  # raw activations (frames x units), kept for exact re-scoring
        n_frames, n_units = acts.shape
        self.choice = choose_index(n_units, n_frames, exact_max_units)
        vecs = unit_vectors(acts)
        if self.choice.kind == "flat":
            self.index = faiss.IndexFlatIP(n_frames)
        else:
            basis = _principal_frames(vecs, self.choice.dims, seed)
            projection = faiss.LinearTransform(n_frames, self.choice.dims, False)
            faiss.copy_array_to_vector(np.ascontiguousarray(basis.T).ravel(), projection.A)
            projection.is_trained = True
            self.index = faiss.IndexPreTransform(projection, faiss.IndexFlatIP(self.choice.dims))
        self.index.add(vecs)
        del vecs

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
