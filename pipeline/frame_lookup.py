"""Frame key → row of the frames manifest, and the row's columns, with no Python object per frame.

Keys are held as one array of packed 12-byte values (`packed_keys`; fixed-width text where a key has
another shape) in manifest order plus its sort order (20 bytes a frame), searched by bisection; numeric
columns as NumPy arrays of the width asked for; other columns (a frame's labels) as the smallest integer
code per frame into the few distinct values, coded by Arrow a batch at a time. A dict of Python strings
and tuples, as this replaced, held about 300 bytes a frame: 0.3 GB of the query server at a million frames.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from unitscope.pipeline import packed_keys


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


class _Coder:
    """One coded column: each batch's distinct values (Arrow's dictionary of the batch) mapped to codes
    shared by every batch, so only the distinct values become Python objects."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self.code_of: dict[Any, int] = {}

    def codes(self, column: pa.Array) -> np.ndarray:
        if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
            # a list as one string (its items joined by a byte no label holds), null kept null
            flat = pc.binary_join(column, "\x1f")
            joined = pc.if_else(pc.is_null(column), pa.scalar(None, pa.string()), flat)
        else:
            joined = column
        encoded = pc.dictionary_encode(joined, null_encoding="encode")
        indices = encoded.indices.to_numpy(zero_copy_only=False)
        first = np.full(len(encoded.dictionary), -1, np.int64)
        first[indices] = np.arange(len(indices))  # a row holding each distinct value
        local = np.empty(len(first), np.int64)
        for i, row in enumerate(first.tolist()):
            value = column[row].as_py() if row >= 0 else None
            value = tuple(value) if isinstance(value, list) else value
            local[i] = self.code_of.setdefault(value, len(self.code_of))
            if local[i] == len(self.values):
                self.values.append(value)
        return local[indices] if len(indices) else np.zeros(0, np.int64)


class FrameLookup:
    """Rows of a frames table by key: `row(key)`, `key(row)`, and `value(column, row)`."""

    def __init__(self, keys: np.ndarray, numbers: dict[str, np.ndarray], codes: dict[str, tuple]):
        self.keys = keys  # packed (`packed_keys.PACKED`) or fixed-width text
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
        keys = np.zeros(rows, packed_keys.PACKED)
        numbers = {c: np.zeros(rows, t) for c, t in columns.items() if t is not None}
        codes = {c: np.zeros(rows, np.int32) for c, t in columns.items() if t is None}
        coders = {c: _Coder() for c in codes}
        start = 0
        for batch in batches:
            part = fixed_width(batch.column("key"))
            if keys.dtype == packed_keys.PACKED and packed_keys.packable(part).all():
                part = packed_keys.pack(part)
            elif keys.dtype == packed_keys.PACKED:  # a key of another shape: every key as text
                keys = packed_keys.unpack(keys) if start else np.zeros(rows, part.dtype)
            if part.dtype.itemsize > keys.dtype.itemsize:
                keys = keys.astype(part.dtype)
            end = start + len(part)
            keys[start:end] = part
            for c, arr in numbers.items():
                arr[start:end] = batch.column(c).to_numpy(zero_copy_only=False)
            for c, arr in codes.items():
                arr[start:end] = coders[c].codes(batch.column(c))
            start = end
        for c, arr in numbers.items():  # integers in the smallest type that holds them (shards: 2 bytes)
            if arr.dtype.kind in "iu" and start:
                small = np.promote_types(
                    np.min_scalar_type(arr[:start].min()), np.min_scalar_type(arr[:start].max())
                )
                numbers[c] = arr[:start].astype(small) if small.itemsize < arr.itemsize else arr
        distinct = {}
        for c, arr in codes.items():
            values = tuple(coders[c].values)
            distinct[c] = (arr[:start].astype(np.min_scalar_type(max(len(values) - 1, 0))), values)
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
        valid = np.ones(len(want), bool)
        if self.keys.dtype == packed_keys.PACKED:
            valid = packed_keys.packable(want)
            want = packed_keys.pack(np.where(valid, want, b"0" * 16 + b"-" + b"0" * 7).astype("S24"))
        at = np.searchsorted(self.keys, want, sorter=self.order).clip(0, len(self.keys) - 1)
        rows = self.order[at].astype(np.int64)
        return np.where(valid & (self.keys[rows] == want), rows, -1)

    def holds_at(self, start: int, keys: np.ndarray) -> bool:
        """Whether rows `start`, `start + 1`, ... hold exactly `keys` (fixed-width bytes), in that order."""
        mine = self.keys[start : start + len(keys)]
        if len(mine) != len(keys):
            return False
        if self.keys.dtype == packed_keys.PACKED:
            if not packed_keys.packable(keys).all():
                return False
            keys = packed_keys.pack(keys)
        return bool((mine == keys).all())

    def key(self, row: int) -> str:
        return self.keys_at(np.array([row]))[0]

    def keys_at(self, rows: np.ndarray) -> list[str]:
        """The keys of manifest rows `rows`, unpacked together (a search's hits come a batch at a time)."""
        fixed = self.keys[rows]
        if self.keys.dtype == packed_keys.PACKED:
            fixed = packed_keys.unpack(fixed)
        return [k.decode("ascii") for k in fixed.tolist()]

    def value(self, column: str, row: int) -> Any:
        """Row `row`'s value of `column`: a number, or the coded value (a tuple for a list)."""
        if column in self.numbers:
            return self.numbers[column][row].item()
        codes, values = self.codes[column]
        return values[codes[row]]
