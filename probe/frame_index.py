"""The FAISS index of frame embeddings (the trained encoder's pooled last layer), saved with the run.

Embeddings are L2-normalised, so inner product is cosine similarity. The file is an exact `IndexFlatIP`
byte for byte as `faiss.write_index` writes it (`faiss.read_index` loads it), but it is written a chunk
of the activation store at a time and searched a block of vectors at a time from the file, so neither
the probe nor the query server holds it whole: a million frames x 256 dimensions is a gigabyte, a block
16 MB. A search costs one pass over the file (from the page cache once read), which an exact search of
an index held in memory costs too: one matrix product over every vector per batch of queries.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterable, Iterator

import faiss
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from unitscope.probe.catalog import FRAME_INDEX, FRAME_INDEX_KEYS, PROBE_JSON

from unitscope.core import storage

# faiss/impl/index_write.cpp for an IndexFlatIP: fourcc, d, ntotal, two unused int64, is_trained,
# metric type, then the float32 vectors as a vector (its length in floats, then the values).
HEADER = struct.Struct("<4siqqq?iQ")
FOURCC = b"IxFI"
UNUSED = 1 << 20
BLOCK_BYTES = 16 * 2**20  # vectors read (and scored) at a time
KEYS_SCHEMA = pa.schema([("key", pa.string())])


def _header(d: int, n: int) -> bytes:
    return HEADER.pack(FOURCC, d, n, UNUSED, UNUSED, True, faiss.METRIC_INNER_PRODUCT, n * d)


def write(run_url: str, chunks: Iterable[tuple[list[str], np.ndarray]]) -> int:
    """Write the index and its keys table from (keys, embeddings) chunks, one chunk in memory at a time
    (the vectors are L2-normalised here); returns the number of frames."""
    run_url = run_url.rstrip("/")
    n = d = 0
    with (
        storage.url_writer(f"{run_url}/{FRAME_INDEX}") as f,
        storage.url_writer(f"{run_url}/{FRAME_INDEX_KEYS}") as kf,
        pq.ParquetWriter(kf, KEYS_SCHEMA, **storage.PARQUET_CHECKSUMS) as keys_out,
    ):
        f.write(bytes(HEADER.size))  # the real header once the count is known
        for keys, emb in chunks:
            vecs = np.ascontiguousarray(emb, dtype=np.float32)
            if d and vecs.shape[1] != d:
                raise ValueError(f"frame embeddings of {vecs.shape[1]} dimensions after {d}")
            d = vecs.shape[1]
            faiss.normalize_L2(vecs)
            f.write(vecs.data)
            keys_out.write_table(pa.table({"key": pa.array(keys, pa.string())}, schema=KEYS_SCHEMA))
            n += len(vecs)
        if not n:
            raise ValueError("no frame embeddings are stored")
        f.seek(0)
        f.write(_header(d, n))
    return n


class FlatFile:
    """A frame index file, searched exactly by reading its vectors a block at a time."""

    def __init__(self, run_url: str):
        self.fs, self.path = storage.url_to_fs(f"{run_url.rstrip('/')}/{FRAME_INDEX}")
        with self.fs.open(self.path, "rb") as f:
            head = f.read(HEADER.size)
        if len(head) < HEADER.size:
            raise ValueError(f"{FRAME_INDEX} is shorter than a FAISS header")
        fourcc, self.d, self.ntotal, _, _, _, metric, floats = HEADER.unpack(head)
        if fourcc != FOURCC or metric != faiss.METRIC_INNER_PRODUCT or floats != self.d * self.ntotal:
            raise ValueError(f"{FRAME_INDEX} is not a flat inner-product FAISS index written by the probe")
        size = self.fs.size(self.path)
        if size != HEADER.size + 4 * floats:  # checked here, not at the first search that reads past it
            raise ValueError(
                f"{FRAME_INDEX} holds {size} bytes, not the {HEADER.size + 4 * floats} its header says"
            )

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and rows (each (N, k), best first; row -1 past the end) of the `k` nearest vectors
        to each of `vectors`, which are L2-normalised here."""
        q = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.d).copy()
        faiss.normalize_L2(q)
        heap = faiss.ResultHeap(len(q), k, keep_max=True)
        block = np.empty((max(1, BLOCK_BYTES // (4 * self.d)), self.d), np.float32)
        with self.fs.open(self.path, "rb") as f:
            f.seek(HEADER.size)
            for start in range(0, self.ntotal, len(block)):
                part = block[: min(len(block), self.ntotal - start)]
                _read_into(f, part)
                scores, rows = faiss.knn(q, part, min(k, len(part)), faiss.METRIC_INNER_PRODUCT)
                heap.add_result(scores, np.where(rows >= 0, rows + start, -1))
        heap.finalize()
        return heap.D, heap.I

    def blocks(self, rows: int) -> Iterator[tuple[int, np.ndarray]]:
        """(first row, vectors) of the file, `rows` vectors at a time, each block a new array."""
        with self.fs.open(self.path, "rb") as f:
            f.seek(HEADER.size)
            for start in range(0, self.ntotal, rows):
                block = np.empty((min(rows, self.ntotal - start), self.d), np.float32)
                _read_into(f, block)
                yield start, block

    def rows(self, rows: np.ndarray) -> np.ndarray:
        """The stored vectors of `rows` (ascending), each read where it lies: the vectors are neither
        loaded nor mapped, so a search's re-ranking does not grow the reader's resident memory."""
        out = np.empty((len(rows), self.d), np.float32)
        size = 4 * self.d
        if storage.is_local(self.fs):  # a pread a row: a ninth of the file object's seek + read
            fd = os.open(self.path, os.O_RDONLY)
            try:
                for i, row in enumerate(rows.tolist()):
                    if os.preadv(fd, [out[i]], HEADER.size + size * row) != size:
                        raise ValueError(f"{FRAME_INDEX} is shorter than its header says; re-run the probe")
            finally:
                os.close(fd)
            return out
        with self.fs.open(self.path, "rb") as f:
            for i, row in enumerate(rows.tolist()):
                f.seek(HEADER.size + size * row)
                _read_into(f, out[i])
        return out

    def reconstruct(self, row: int) -> np.ndarray:
        """The stored (normalised) vector of `row`."""
        out = np.empty(self.d, np.float32)
        with self.fs.open(self.path, "rb") as f:
            f.seek(HEADER.size + 4 * self.d * row)
            _read_into(f, out)
        return out


def check_digest(run_url: str) -> None:
    """The flat file's SHA-256 (read a MiB at a time, never held) against the one probe.json records; a
    ValueError when it differs. A run without a record (an older probe) is not checked."""
    run_url = run_url.rstrip("/")
    try:
        want = json.loads(storage.read_bytes(f"{run_url}/{PROBE_JSON}")).get("frame_index_sha256")
    except (FileNotFoundError, ValueError, AttributeError):
        return  # probe.json itself is checked where it is read
    if want and storage.file_sha256(f"{run_url}/{FRAME_INDEX}") != want:
        raise ValueError(
            f"{FRAME_INDEX} is not the file the probe wrote (its SHA-256 differs from probe.json's)"
        )


def _read_into(f, arr: np.ndarray) -> None:
    view = memoryview(arr).cast("B")
    got = 0
    while got < len(view):
        n = f.readinto(view[got:])
        if not n:
            raise ValueError("the frame index file is shorter than its header says; re-run the probe")
        got += n


def keys_at(run_url: str, rows: Iterable[int]) -> dict[int, str]:
    """The keys of index rows `rows`, by one pass over the keys table."""
    want, found, start = set(rows), {}, 0
    fs, path = storage.url_to_fs(f"{run_url.rstrip('/')}/{FRAME_INDEX_KEYS}")
    for batch in storage.iter_parquet(fs, path, ["key"]):
        hits = [r for r in want if start <= r < start + len(batch)]
        keys = batch.column("key")
        found.update({r: keys[r - start].as_py() for r in hits})
        start += len(batch)
    return found


def nearest(run_url: str, vectors: np.ndarray, k: int) -> list[list[str]]:
    """For each row of `vectors`, the keys of its `k` nearest frames."""
    _, rows = FlatFile(run_url).search(vectors, k)
    keys = keys_at(run_url, rows[rows >= 0].tolist())
    return [[keys[r] for r in row if r >= 0] for row in rows]
