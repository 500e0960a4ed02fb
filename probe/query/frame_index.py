"""The probe's FAISS index of frame embeddings: nearest dataset frames to an embedding or to a frame."""

from __future__ import annotations

import faiss
import numpy as np

from pipeline.errors import InputError
from probe import frame_index
from probe.catalog import FRAME_INDEX
from probe.query.errors import NotFound

# This FAISS build scans a flat index with its one-query-at-a-time kernel below 128,000 queries; a
# micro-batch of image queries reads the 100 MB of a 100,000-frame index once as one BLAS product
# instead, 3-4x faster per query at 32 queries (tests/bench/query_server.py).
BLAS_FROM_QUERIES = 16


class FrameIndex:
    """The probe's frame embeddings, searched by inner product; row i of the index is frame `keys[i]`."""

    def __init__(self, run_url: str, threads: int | None = None):
        self.threads = threads  # FAISS threads per search; None: FAISS's default (every core)
        try:
            self.index, self.keys = frame_index.load(run_url)
        except FileNotFoundError:
            raise InputError(
                f"{run_url} has no frame index ({FRAME_INDEX}); run `unitscope probe {run_url} DATASET` first"
            ) from None
        if self.index.ntotal != len(self.keys):
            raise InputError(
                f"{run_url}: the frame index holds {self.index.ntotal} vectors but its key table "
                f"{len(self.keys)} keys; re-run `unitscope probe`"
            )
        self._row = {k: i for i, k in enumerate(self.keys)}
        faiss.cvar.distance_compute_blas_threshold = BLAS_FROM_QUERIES  # process-wide, as FAISS has it

    @property
    def dim(self) -> int:
        return self.index.d

    def search(self, vectors: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """For each row of `vectors` (N, dim), its k nearest frames as (key, score), best first."""
        if self.threads:  # OpenMP keeps this per calling thread: a worker thread starts at every core
            faiss.omp_set_num_threads(self.threads)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if self.index.metric_type == faiss.METRIC_INNER_PRODUCT:
            faiss.normalize_L2(vectors)
        scores, rows = self.index.search(vectors, min(k, self.index.ntotal))
        return [
            [(self.keys[r], float(s)) for r, s in zip(rs, ss, strict=False) if r >= 0]
            for rs, ss in zip(rows, scores, strict=False)
        ]

    def neighbors(self, key: str, k: int) -> list[tuple[str, float]]:
        """The k frames nearest to frame `key` (itself excluded)."""
        try:
            row = self._row[key]
        except KeyError:
            raise NotFound(f"frame {key!r} is not in the frame index") from None
        vec = self.index.reconstruct(row).reshape(1, -1)
        hits = self.search(vec, k + 1)[0]
        return [h for h in hits if h[0] != key][:k]
