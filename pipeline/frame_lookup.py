"""Frame key → row of the frames manifest, and the row's columns, with no Python object per frame.

Keys are held as one array of fixed-width bytes in manifest order plus its sort order (28 bytes a frame),
searched by bisection; the other columns as NumPy or Arrow arrays. A dict of Python strings and tuples,
as this replaced, held about 300 bytes a frame: 0.3 GB of the query server at a million frames.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa


def fixed_width(keys: pa.Array) -> np.ndarray:
    """An Arrow string array as NumPy fixed-width bytes (keys are ASCII), straight from Arrow's buffers
    when every key has the same length (the usual case: `<16 hex digits>-<7 digits>`)."""
    keys = keys.cast(pa.string())
    offsets = np.frombuffer(keys.buffers()[1], np.int32)[keys.offset : keys.offset + len(keys) + 1]
    lengths = np.diff(offsets)
    if len(keys) and keys.null_count == 0 and (lengths == lengths[0]).all() and lengths[0] > 0:
        data = keys.buffers()[2]
        return np.frombuffer(data, f"S{lengths[0]}", count=len(keys), offset=int(offsets[0])).copy()
    return np.array(keys.to_pylist(), dtype=np.bytes_)


class FrameLookup:
    """Rows of a frames table by key: `row(key)`, `key(row)`, and `column(name)[row]`."""

    def __init__(self, keys: np.ndarray, columns: dict[str, np.ndarray | pa.Array]):
        self.keys = keys
        index_type = np.int32 if len(keys) < 2**31 else np.int64
        self.order = np.argsort(keys).astype(index_type)  # keys are unique: no need for a stable sort
        self.columns = columns

    @classmethod
    def from_batches(cls, batches: Iterable[pa.RecordBatch], rows: int, columns: list[str]) -> FrameLookup:
        """Built from record batches of `key` and `columns` (`rows` in all), one batch in memory at a time:
        numeric columns fill preallocated NumPy arrays, others (lists of labels) stay Arrow arrays."""
        keys = np.zeros(rows, "S24")
        numeric: dict[str, np.ndarray] = {}
        other: dict[str, list[pa.Array]] = {c: [] for c in columns}
        start = 0
        for batch in batches:
            part = fixed_width(batch.column("key"))
            if part.dtype.itemsize > keys.dtype.itemsize:
                keys = keys.astype(part.dtype)
            end = start + len(part)
            keys[start:end] = part
            for c in columns:
                col = batch.column(c)
                if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
                    if c not in numeric:
                        numeric[c] = np.zeros(rows, col.type.to_pandas_dtype())
                        del other[c]
                    numeric[c][start:end] = col.to_numpy()
                else:
                    other[c].append(col)
            start = end
        arrow = {c: pa.concat_arrays(parts) if parts else pa.array([]) for c, parts in other.items()}
        return cls(keys[:start], {**numeric, **arrow})

    def __len__(self) -> int:
        return len(self.keys)

    def row(self, key: str) -> int:
        """The manifest row of `key`; -1 when the table has no such key."""
        return int(self.rows([key])[0])

    def rows(self, keys: list[str]) -> np.ndarray:
        """The manifest rows of `keys` (-1 for each key the table lacks)."""
        want = np.array([k.encode("ascii", "replace") for k in keys], dtype=np.bytes_)
        if not len(self.keys) or not len(want):
            return np.full(len(want), -1, np.int64)
        at = np.searchsorted(self.keys, want, sorter=self.order).clip(0, len(self.keys) - 1)
        rows = self.order[at].astype(np.int64)
        return np.where(self.keys[rows] == want, rows, -1)

    def key(self, row: int) -> str:
        return self.keys[row].decode("ascii")

    def column(self, name: str) -> np.ndarray | pa.Array:
        return self.columns[name]
