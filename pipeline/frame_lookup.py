"""Frame key → row of the frames manifest, and the row's columns, with no Python object per frame.

Keys are held as one array of fixed-width bytes in manifest order plus its sort order (32 bytes a frame),
searched by bisection; numeric columns as NumPy arrays of the width asked for; other columns (a frame's
labels) as a code per frame into the few distinct values. A dict of Python strings and tuples, as this
replaced, held about 300 bytes a frame: 0.3 GB of the query server at a million frames.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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
    """Rows of a frames table by key: `row(key)`, `key(row)`, and `value(column, row)`."""

    def __init__(self, keys: np.ndarray, numbers: dict[str, np.ndarray], codes: dict[str, tuple]):
        self.keys = keys
        # NumPy's own index type: `searchsorted` copies a sorter of any other type on every call, which
        # made an int32 order cost 0.7 ms a lookup at a million frames (the frame route: 0.4 -> 1.6 ms of
        # server CPU a request from 100,000 to 1,000,000 frames, tests/bench/million.py).
        self.order = np.argsort(keys)  # keys are unique: no need for a stable sort
        self.numbers = numbers
        self.codes = codes  # column -> (code of each row, the distinct values)

    @classmethod
    def from_batches(
        cls, batches: Iterable[pa.RecordBatch], rows: int, columns: dict[str, type | None]
    ) -> FrameLookup:
        """Built from record batches of `key` and `columns` (`rows` in all), one batch in memory at a time.
        A column given a NumPy type fills an array of it; one given None is coded (labels: a few
        distinct lists among a million frames)."""
        keys = np.zeros(rows, "S24")
        numbers = {c: np.zeros(rows, t) for c, t in columns.items() if t is not None}
        codes = {c: np.zeros(rows, np.int32) for c, t in columns.items() if t is None}
        seen: dict[str, dict[Any, int]] = {c: {} for c in codes}
        start = 0
        for batch in batches:
            part = fixed_width(batch.column("key"))
            if part.dtype.itemsize > keys.dtype.itemsize:
                keys = keys.astype(part.dtype)
            end = start + len(part)
            keys[start:end] = part
            for c, arr in numbers.items():
                arr[start:end] = batch.column(c).to_numpy(zero_copy_only=False)
            for c, arr in codes.items():
                table = seen[c]
                values = (tuple(v) if isinstance(v, list) else v for v in batch.column(c).to_pylist())
                arr[start:end] = [table.setdefault(v, len(table)) for v in values]
            start = end
        distinct = {c: (codes[c][:start], tuple(seen[c])) for c in codes}
        return cls(keys[:start], {c: a[:start] for c, a in numbers.items()}, distinct)

    def __len__(self) -> int:
        return len(self.keys)

    def row(self, key: str) -> int:
        """The manifest row of `key`; -1 when the table has no such key."""
        return int(self.rows([key])[0])

    def rows(self, keys: list[str] | np.ndarray) -> np.ndarray:
        """The manifest rows of `keys`, strings or fixed-width bytes (-1 for each key the table lacks)."""
        want = (
            keys
            if isinstance(keys, np.ndarray)
            else np.array([k.encode("ascii", "replace") for k in keys], dtype=np.bytes_)
        )
        if not len(self.keys) or not len(want):
            return np.full(len(want), -1, np.int64)
        at = np.searchsorted(self.keys, want, sorter=self.order).clip(0, len(self.keys) - 1)
        rows = self.order[at].astype(np.int64)
        return np.where(self.keys[rows] == want, rows, -1)

    def key(self, row: int) -> str:
        return self.keys[row].decode("ascii")

    def value(self, column: str, row: int) -> Any:
        """Row `row`'s value of `column`: a number, or the coded value (a tuple for a list)."""
        if column in self.numbers:
            return self.numbers[column][row].item()
        codes, values = self.codes[column]
        return values[codes[row]]
