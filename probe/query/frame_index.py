"""The probe's FAISS index of frame embeddings: nearest dataset frames to an embedding or to a frame."""

from __future__ import annotations

import faiss
import fsspec
import numpy as np

from pipeline import storage
from pipeline.errors import InputError
from probe.query import layout
from probe.query.errors import NotFound


class FrameIndex:
    """Frame embeddings searched by inner product; row i of the index is frame `keys[i]`."""

    def __init__(self, run_url: str):
        run_url = run_url.rstrip("/")
        fs, root = fsspec.core.url_to_fs(run_url)
        try:
            raw = fs.cat_file(f"{root}/{layout.FRAME_INDEX}")
            self.keys: list[str] = storage.read_parquet(fs, f"{root}/{layout.FRAME_INDEX_KEYS}")[
                "key"
            ].to_pylist()
        except FileNotFoundError as exc:
            raise InputError(
                f"{run_url} has no frame index ({exc.filename or layout.FRAME_INDEX}); "
                f"run `unitscope probe {run_url} DATASET` first"
            ) from None
        self.index = faiss.deserialize_index(np.frombuffer(raw, dtype=np.uint8))
        if self.index.ntotal != len(self.keys):
            raise InputError(
                f"{run_url}: the frame index holds {self.index.ntotal} vectors but its key table "
                f"{len(self.keys)} keys; re-run `unitscope probe`"
            )
        self._row = {k: i for i, k in enumerate(self.keys)}

    @property
    def dim(self) -> int:
        return self.index.d

    def search(self, vectors: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """For each row of `vectors` (N, dim), its k nearest frames as (key, score), best first."""
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
