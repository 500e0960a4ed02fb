"""The probe's FAISS index of frame embeddings: nearest dataset frames to an embedding or to a frame."""

from __future__ import annotations

import faiss
import numpy as np

from pipeline import storage
from pipeline.errors import InputError
from pipeline.frame_lookup import FrameLookup
from probe.catalog import FRAME_INDEX, FRAME_INDEX_KEYS
from probe.frame_index import FlatFile
from probe.query.errors import NotFound

# This FAISS build scores a block of vectors with its one-query-at-a-time kernel below 128,000 queries; a
# micro-batch of image queries scores each block as one BLAS product instead, 3-4x faster per query at
# 32 queries (tests/bench/query_server.py).
BLAS_FROM_QUERIES = 16


class FrameIndex:
    """The probe's frame embeddings, searched by inner product; row i of the index is frame `key(i)`.
    The vectors stay in the file (`FlatFile`), the keys in arrays (`FrameLookup`, 28 bytes a frame)."""

    def __init__(self, run_url: str, threads: int | None = None):
        self.threads = threads  # FAISS threads per search; None: FAISS's default (every core)
        try:
            self.index = FlatFile(run_url)
            fs, path = storage.url_to_fs(f"{run_url.rstrip('/')}/{FRAME_INDEX_KEYS}")
            batches = storage.iter_parquet(fs, path, ["key"])
            self.keys = FrameLookup.from_batches(batches, self.index.ntotal, [])
        except FileNotFoundError:
            raise InputError(
                f"{run_url} has no frame index ({FRAME_INDEX}); run `unitscope probe {run_url} DATASET` first"
            ) from None
        if self.index.ntotal != len(self.keys):
            raise InputError(
                f"{run_url}: the frame index holds {self.index.ntotal} vectors but its key table "
                f"{len(self.keys)} keys; re-run `unitscope probe`"
            )
        faiss.cvar.distance_compute_blas_threshold = BLAS_FROM_QUERIES  # process-wide, as FAISS has it

    @property
    def dim(self) -> int:
        return self.index.d

    def search(self, vectors: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """For each row of `vectors` (N, dim), its k nearest frames as (key, score), best first."""
        if self.threads:  # OpenMP keeps this per calling thread: a worker thread starts at every core
            faiss.omp_set_num_threads(self.threads)
        scores, rows = self.index.search(vectors, min(k, self.index.ntotal))
        return [
            [(self.keys.key(r), float(s)) for r, s in zip(rs, ss, strict=False) if r >= 0]
            for rs, ss in zip(rows, scores, strict=False)
        ]

    def neighbors(self, key: str, k: int) -> list[tuple[str, float]]:
        """The k frames nearest to frame `key` (itself excluded)."""
        row = self.keys.row(key)
        if row < 0:
            raise NotFound(f"frame {key!r} is not in the frame index")
        hits = self.search(self.index.reconstruct(row).reshape(1, -1), k + 1)[0]
        return [h for h in hits if h[0] != key][:k]
