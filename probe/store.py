"""The activation store: per-shard float16 chunks of every unit's pooled response, under RUN/probe/.

Layout (one chunk per dataset shard, so a million frames x thousands of units stream to storage and
are read back one chunk at a time, never whole):

    activations/meta.json                      layers, channels per layer, pooling, fingerprint
    activations/keys/shard-000000.parquet      frame keys of the chunk, in row order (the commit mark)
    activations/trained/shard-000000.npy       float16 (frames, units) of the trained encoder
    activations/random/shard-000000.npy        the same architecture with random weights
    activations/embeddings/shard-000000.npy    float32 (frames, dim) frame embeddings

Each file is written under a temporary name and renamed; the keys table is written last, so a chunk
whose keys exist is complete and a re-run skips it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from unitscope.core import storage
from unitscope.core.errors import DamageError

ACTIVATIONS_DIR = "probe/activations"
NETWORKS = ("trained", "random")
EMBEDDINGS = "embeddings"
DIGESTS = "unitscope.sha256"  # keys-table metadata: {kind: sha256 of its .npy}


def chunk_name(shard: int) -> str:
    return f"shard-{shard:06d}"


write_bytes = storage.write_bytes
read_bytes = storage.read_bytes


def npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def read_npy(url: str) -> np.ndarray:
    return np.load(io.BytesIO(read_bytes(url)), allow_pickle=False)


@dataclass
class StoreMeta:
    layers: list[str]
    channels: list[int]
    pool: str
    fingerprint: str

    @property
    def units(self) -> list[tuple[str, int]]:
        return [(layer, c) for layer, n in zip(self.layers, self.channels, strict=True) for c in range(n)]


class ActivationStore:
    """Chunks of activations of one run, keyed by shard number."""

    def __init__(self, run_url: str):
        self.url = f"{run_url.rstrip('/')}/{ACTIVATIONS_DIR}"
        self.fs, self.root = storage.url_to_fs(self.url)
        self.fix = "run the same `unitscope probe` again: it computes damaged chunks again"
        # the last keys table read: `iter_chunks` reads a chunk's keys and then its array, whose digest the
        # same table holds, so each chunk's table is parsed once (CRC-checked), not once per use
        self._last: tuple[tuple, pa.Table] | None = None

    def path(self, kind: str, shard: int) -> str:
        if kind == "keys":
            return f"{self.url}/keys/{chunk_name(shard)}.parquet"
        return f"{self.url}/{kind}/{chunk_name(shard)}.npy"

    # -- metadata ------------------------------------------------------------------------------------
    def read_meta(self) -> StoreMeta | None:
        try:
            with self.fs.open(f"{self.root}/meta.json", "r") as f:
                return StoreMeta(**json.load(f))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError, UnicodeDecodeError):  # damaged: the chunks are computed again
            return None

    def reset_if_stale(self, fingerprint: str) -> bool:
        """Delete chunks computed for another encoder/layers/pooling; True when something was deleted."""
        meta = self.read_meta()
        stale = (meta is not None and meta.fingerprint != fingerprint) or (
            meta is None and self.fs.exists(self.root)
        )
        if stale:
            storage.remove_tree(self.fs, self.root)
            self._last = None
        return stale

    def write_meta(self, meta: StoreMeta) -> None:
        write_bytes(f"{self.url}/meta.json", json.dumps(meta.__dict__, indent=1).encode())

    # -- chunks --------------------------------------------------------------------------------------
    def has_chunk(self, shard: int) -> bool:
        """Whether a complete chunk is committed (one read from a damaged shard is computed again)."""
        return self.fs.exists(f"{self.root}/keys/{chunk_name(shard)}.parquet") and not self.fs.exists(
            self._partial(shard)
        )

    def _partial(self, shard: int) -> str:
        return f"{self.root}/partial/{chunk_name(shard)}"

    def write_chunk(
        self, shard: int, keys: list[str], arrays: dict[str, np.ndarray], complete: bool = True
    ) -> None:
        """Commit a chunk; `complete=False` marks it as computed from a damaged shard (not reused)."""
        if not complete:  # marked first, so a chunk is never taken as complete while it is rewritten
            write_bytes(f"{self.url}/partial/{chunk_name(shard)}", b"")
        self._last = None
        digests = {}
        for kind, arr in arrays.items():
            data = npy_bytes(arr)
            write_bytes(self.path(kind, shard), data)
            digests[kind] = storage.sha256_hex(data)
        # the keys table commits the chunk, and records its arrays' digests (checked when they are read)
        table = pa.table({"key": pa.array(keys, pa.string())}).replace_schema_metadata(
            {DIGESTS: json.dumps(digests)}
        )
        buf = io.BytesIO()
        pq.write_table(table, buf, **storage.PARQUET_CHECKSUMS)
        write_bytes(self.path("keys", shard), buf.getvalue())
        if complete and self.fs.exists(self._partial(shard)):
            self.fs.rm(self._partial(shard))

    def shards(self) -> list[int]:
        """Committed chunks, in shard order."""
        try:
            names = self.fs.ls(f"{self.root}/keys", detail=False)
        except FileNotFoundError:
            return []
        out = []
        for name in names:
            base = name.rsplit("/", 1)[-1]
            if base.startswith("shard-") and base.endswith(".parquet"):
                out.append(int(base[len("shard-") : -len(".parquet")]))
        return sorted(out)

    def _keys_table(self, shard: int) -> pa.Table:
        url = self.path("keys", shard)
        try:
            info = self.fs.info(url)
            version = (shard, info.get("size"), info.get("mtime"), info.get("ino"), info.get("ETag"))
            if self._last is not None and self._last[0] == version:
                return self._last[1]  # the same file (another process may have committed it anew)
            table = storage.read_parquet(*storage.url_to_fs(url))
        except (OSError, ValueError, pa.ArrowException) as exc:
            raise DamageError(f"{url} is damaged ({type(exc).__name__}); {self.fix}") from exc
        self._last = (version, table)
        return table

    def keys(self, shard: int) -> list[str]:
        return self._keys_table(shard).column("key").to_pylist()

    def digests(self, shard: int) -> dict[str, str]:
        meta = self._keys_table(shard).schema.metadata or {}
        return json.loads(meta.get(DIGESTS.encode(), b"{}"))

    def chunk(self, kind: str, shard: int) -> np.ndarray:
        url = self.path(kind, shard)
        data = storage.check_digest(url, read_bytes(url), self.digests(shard).get(kind), self.fix)
        try:
            return np.load(io.BytesIO(data), allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise DamageError(f"{url} is damaged ({type(exc).__name__}); {self.fix}") from exc

    def intact(self, shard: int) -> bool:
        """Whether every array of a committed chunk reads with the digest recorded for it."""
        try:
            for kind in self.digests(shard):
                self.chunk(kind, shard)
        except (DamageError, FileNotFoundError):
            return False
        return True

    def iter_chunks(self, kind: str) -> Iterator[tuple[list[str], np.ndarray]]:
        for shard in self.shards():
            yield self.keys(shard), self.chunk(kind, shard)

    def gather(self, kind: str, keys: list[str]) -> np.ndarray:
        """Rows of `keys`, in that order, read chunk by chunk (only the requested rows are kept)."""
        want = {k: i for i, k in enumerate(keys)}
        out: np.ndarray | None = None
        found = 0
        for chunk_keys, arr in self.iter_chunks(kind):
            rows = [(r, want[k]) for r, k in enumerate(chunk_keys) if k in want]
            if out is None:
                out = np.zeros((len(keys), arr.shape[1]), dtype=arr.dtype)
            if rows:
                src, dst = map(list, zip(*rows, strict=True))
                out[dst] = arr[src]
                found += len(rows)
        if out is None or found != len(keys):
            raise KeyError(f"{len(keys) - found} of {len(keys)} frames have no stored {kind} activations")
        return out
