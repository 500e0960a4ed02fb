"""The probe's FAISS index of frame embeddings: nearest dataset frames to an embedding or to a frame."""

from __future__ import annotations

import faiss
import numpy as np
from unitscope.pipeline.frame_lookup import FrameLookup, fixed_width
from unitscope.probe import ivf_index
from unitscope.probe.catalog import FRAME_INDEX, FRAME_INDEX_KEYS
from unitscope.probe.frame_index import FlatFile
from unitscope.probe.ivf_index import IvfFile
from unitscope.probe.query.errors import NotFound

from unitscope.core import storage
from unitscope.core.errors import InputError

# This FAISS build scores a block of vectors with its one-query-at-a-time kernel below 128,000 queries; a
# micro-batch of image queries scores each block as one BLAS product instead, 3-4x faster per query at
# 32 queries (tests/bench/query_server.py).
BLAS_FROM_QUERIES = 16


def open_index(run_url: str, nprobe: int | None = None, dataset_url: str | None = None) -> FlatFile | IvfFile:
    """The run's frame index: its IVF index (lists mapped from disk, `nprobe` lists a query; None: the
    default it was built with) where the probe built one, else the exact flat file. A missing, corrupt or
    truncated file is an InputError that names the run and the command that rebuilds it: sizes are checked,
    and the digests the probe recorded (each file read once, here)."""
    run_url = run_url.rstrip("/")
    try:
        return ivf_index.load(run_url, nprobe)
    except FileNotFoundError:
        what = f"has no frame index ({FRAME_INDEX})"
    except (ValueError, KeyError, TypeError) as exc:
        what = f"has a damaged frame index: {exc}"
    kind = "ivf" if storage.exists(f"{run_url}/{ivf_index.FRAME_IVF_META}") else "exact"
    raise InputError(
        f"{run_url} {what}; rebuild it with `unitscope probe {run_url} {dataset_url or 'DATASET'} "
        f"--frame-index {kind}` (the stored activations are reused)"
    )


class FrameIndex:
    """The probe's frame embeddings, searched by inner product. The vectors stay in the file (`FlatFile`).
    An index written in the dataset's manifest order (the probe's, over an intact dataset) needs no map
    between its rows and the manifest's; otherwise each index row is held as the row of its frame in the
    dataset's lookup (4 bytes a frame each way), not as a key of its own."""

    def __init__(
        self,
        run_url: str,
        frames: FrameLookup,
        threads: int | None = None,
        nprobe: int | None = None,
        dataset_url: str | None = None,
    ):
        self.threads = threads  # FAISS threads per search; None: FAISS's default (every core)
        self.frames = frames
        self.index = open_index(run_url, nprobe, dataset_url)
        self.manifest_row, keys = self._manifest_rows(run_url)
        if keys != self.index.ntotal:
            raise InputError(
                f"{run_url}: the frame index holds {self.index.ntotal} vectors but its key table "
                f"{keys} keys; re-run `unitscope probe`"
            )
        self.index_row: np.ndarray | None = None  # None: index row = manifest row, both ways
        if self.manifest_row is not None:
            self.index_row = np.full(len(frames), -1, np.int32)
            self.index_row[self.manifest_row] = np.arange(self.index.ntotal, dtype=np.int32)
        faiss.cvar.distance_compute_blas_threshold = BLAS_FROM_QUERIES  # process-wide, as FAISS has it

    def _manifest_rows(self, run_url: str) -> tuple[np.ndarray | None, int]:
        """The dataset row of each index row (None when they are the same rows), and how many keys the
        index has. Keys are compared a batch at a time; rows are looked up only once one differs."""
        fs, path = storage.url_to_fs(f"{run_url.rstrip('/')}/{FRAME_INDEX_KEYS}")
        out: np.ndarray | None = None
        start = 0
        for batch in storage.iter_parquet(fs, path, ["key"]):
            fixed = fixed_width(batch.column("key"))
            if out is None and self.frames.holds_at(start, fixed):
                start += len(fixed)
                continue
            if out is None:  # from here on, rows by key; the rows before are the manifest's own
                out = np.zeros(self.index.ntotal, np.int32)
                out[: min(start, len(out))] = np.arange(min(start, len(out)), dtype=np.int32)
            rows = self.frames.rows(fixed)
            if (rows < 0).any():
                missing = batch.column("key")[int(np.argmin(rows))]
                raise InputError(
                    f"{run_url}: its frame index holds frames that the dataset lacks (e.g. {missing}); serve "
                    "it with the dataset it was probed on (--dataset), or probe this one"
                )
            out[start : start + len(rows)] = rows[: max(0, len(out) - start)]
            start += len(rows)
        return out, start  # None: the index holds the manifest's first rows (all of them, usually)

    @property
    def dim(self) -> int:
        return self.index.d

    def search(self, vectors: np.ndarray, k: int) -> list[list[tuple[str, float, int]]]:
        """For each row of `vectors` (N, dim), its k nearest frames as (key, score, manifest row), best
        first: the row saves an answer a lookup by key."""
        if self.threads:  # OpenMP keeps this per calling thread: a worker thread starts at every core
            faiss.omp_set_num_threads(self.threads)
        scores, rows = self.index.search(vectors, min(k, self.index.ntotal))
        to_manifest = self.manifest_row
        if to_manifest is not None:
            rows = np.where(rows >= 0, to_manifest[rows.clip(0)], -1)
        found = rows >= 0
        keys = iter(self.frames.keys_at(rows[found]))
        return [
            [(next(keys), s, r) for r, s in zip(rs[ok].tolist(), ss[ok].tolist(), strict=True)]
            for rs, ss, ok in zip(rows, scores, found, strict=True)
        ]

    def row_of(self, key: str) -> int:
        """The index row of frame `key`; NotFound when the index does not hold it."""
        row = self.frames.row(key)
        if self.index_row is not None and row >= 0:
            row = int(self.index_row[row])
        if row < 0 or row >= self.index.ntotal:
            raise NotFound(f"frame {key!r} is not in the frame index")
        return row

    def neighbors(self, keys: list[str], k: int) -> list[list[tuple[str, float, int]]]:
        """For each of `keys`, the k frames nearest to it (itself excluded) as `search` gives them, all in
        one search."""
        vectors = np.stack([self.index.reconstruct(self.row_of(key)) for key in keys])
        hits = self.search(vectors, k + 1)
        return [[h for h in found if h[0] != key][:k] for key, found in zip(keys, hits, strict=True)]
