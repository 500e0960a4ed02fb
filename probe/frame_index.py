"""The FAISS index of frame embeddings (the trained encoder's pooled last layer), saved with the run.

Embeddings are L2-normalised, so inner product is cosine similarity. Exact `IndexFlatIP`: a million
frames x a few hundred dimensions is about a gigabyte and a query a single matrix-vector product. Used
here to expand exemplar images into pseudo-labels, and by the query stage (image -> nearest frames).
"""

from __future__ import annotations

import io

import faiss
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import storage
from probe.catalog import FRAME_INDEX, FRAME_INDEX_KEYS
from probe.store import EMBEDDINGS, ActivationStore, read_bytes, write_bytes


def build(store: ActivationStore) -> tuple[faiss.Index, list[str]]:
    """An index over every stored frame embedding, and the key of each row."""
    index: faiss.Index | None = None
    keys: list[str] = []
    for chunk_keys, emb in store.iter_chunks(EMBEDDINGS):
        if index is None:
            index = faiss.IndexFlatIP(emb.shape[1])
        vecs = np.ascontiguousarray(emb, dtype=np.float32)
        faiss.normalize_L2(vecs)
        index.add(vecs)
        keys.extend(chunk_keys)
    if index is None:
        raise ValueError("no frame embeddings are stored")
    return index, keys


def save(run_url: str, index: faiss.Index, keys: list[str]) -> None:
    run_url = run_url.rstrip("/")
    write_bytes(f"{run_url}/{FRAME_INDEX}", faiss.serialize_index(index).tobytes())
    buf = io.BytesIO()
    pq.write_table(pa.table({"key": pa.array(keys, pa.string())}), buf)
    write_bytes(f"{run_url}/{FRAME_INDEX_KEYS}", buf.getvalue())


def load(run_url: str) -> tuple[faiss.Index, list[str]]:
    run_url = run_url.rstrip("/")
    index = faiss.deserialize_index(np.frombuffer(read_bytes(f"{run_url}/{FRAME_INDEX}"), dtype=np.uint8))
    keys = storage.read_parquet(*storage.url_to_fs(f"{run_url}/{FRAME_INDEX_KEYS}")).column("key").to_pylist()
    return index, keys


def nearest(index: faiss.Index, keys: list[str], vectors: np.ndarray, k: int) -> list[list[str]]:
    """For each row of `vectors`, the keys of its `k` nearest frames."""
    vecs = np.ascontiguousarray(vectors, dtype=np.float32)
    faiss.normalize_L2(vecs)
    _, rows = index.search(vecs, min(k, index.ntotal))
    return [[keys[r] for r in row if r >= 0] for row in rows]
