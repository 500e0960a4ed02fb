"""Frames by key without a Python object per frame: `FrameLookup` and the Dataset's lookups built on it."""

from __future__ import annotations

from pathlib import Path

import fsspec
import numpy as np
import pyarrow as pa
from unitscope.pipeline import manifest
from unitscope.pipeline.dataset import Dataset
from unitscope.pipeline.frame_lookup import FrameLookup, fixed_width

from tests.helpers import peak_allocated
from tests.pipeline.test_manifest_merge import make_parts


def _dataset(root: str, parts: int, rows: int) -> None:
    statuses, the_plan = make_parts(root, parts, rows)
    manifest.merge(fsspec.filesystem("file"), root, statuses, the_plan, {})


def test_lookup_finds_every_key_and_no_other():
    keys = [f"{v:016x}-{f:07d}" for v in (7, 3, 11) for f in (2, 0, 1)] + ["00000000000000ff-12345678"]
    batches = [
        pa.record_batch({"key": keys[:4], "pts": [0.5, 1.0, 1.5, 2.0]}),
        pa.record_batch({"key": keys[4:], "pts": [float(i) for i in range(len(keys) - 4)]}),
    ]
    lookup = FrameLookup.from_batches(batches, len(keys), {"pts": np.float32})
    assert len(lookup) == len(keys)
    assert [lookup.key(lookup.row(k)) for k in keys] == keys  # a longer key (8 digits) widens the array
    assert lookup.rows(keys).tolist() == list(range(len(keys)))
    assert lookup.row("0000000000000007-0000003") == -1 and lookup.row("nope") == -1 and lookup.row("é") == -1
    assert lookup.value("pts", lookup.row(keys[5])) == 1.0 and lookup.numbers["pts"].dtype == np.float32
    assert fixed_width(pa.array(["ab", "abc"])).tolist() == [b"ab", b"abc"]
    # NumPy's index type: searchsorted copies a sorter of any other type on every lookup (0.7 ms at 1M)
    assert lookup.order.dtype == np.intp


def test_dataset_reads_frames_by_key(tmp_path):
    _dataset(str(tmp_path), 3, 50)
    ds = Dataset(str(tmp_path))
    frames = ds.frames()
    key = frames.column("key")[70].as_py()
    assert ds.lookup.row(key) == 70 and ds.frame_count() == 150
    for row in (0, 70, 71, 149):
        assert list(ds.lookup.value("labels", row)) == frames.column("labels")[row].as_py()
    assert len(ds.lookup.codes["labels"][1]) == 2  # ['face'] and []: one code per frame into two lists
    assert ds.locate([key, "0000000000000000-0000001"]) == {key: (1, 512 + 1024 * 20, 700)}


def lookup_peak(root: Path, parts: int, code: str) -> int:
    """Peak bytes held by `code` (given `ds`) over a dataset of `parts` x 2,000 frames."""
    _dataset(str(root), parts, 2000)
    return peak_allocated(f"from pipeline.dataset import Dataset\nds = Dataset({str(root)!r})", code)


def test_lookup_of_many_frames_takes_tens_of_bytes_a_frame(tmp_path):
    """From 30,000 to 300,000 frames the lookup (keys, shard, byte range, time, labels) peaks at ~65 bytes
    a frame more and holds 56; the dict of Python tuples it replaced held ~300. Locating a few frames
    holds a batch, whatever the number of frames."""
    build = "assert len(ds.lookup) > 0"
    small, big = lookup_peak(tmp_path / "a", 15, build), lookup_peak(tmp_path / "b", 150, build)
    assert (big - small) / 270_000 < 75, (small, big)
    locate = "assert ds.locate(['0' * 16 + '-0000001']) == {}"
    small, big = lookup_peak(tmp_path / "a", 15, locate), lookup_peak(tmp_path / "b", 150, locate)
    assert big - small < 2**20, (small, big)


def test_ingest_keys_are_packed_in_12_bytes_in_the_same_order_and_labels_in_a_byte():
    from unitscope.pipeline import packed_keys

    rng = np.random.default_rng(0)
    keys = sorted(
        {
            f"{int(v):016x}-{int(f):07d}"
            for v, f in zip(rng.integers(0, 2**63, 500), rng.integers(0, 10**7, 500), strict=True)
        }
    )
    text = np.array([k.encode() for k in keys], "S24")
    packed = packed_keys.pack(text)
    assert packed.dtype.itemsize == 12 and (np.sort(packed) == packed).all()  # the text's order
    assert (packed_keys.unpack(packed) == text).all()
    labels = [["face"] if i % 3 == 0 else ([] if i % 3 == 1 else None) for i in range(len(keys))]
    shuffled = rng.permutation(len(keys))
    batches = [
        pa.record_batch(
            {
                "key": [keys[i] for i in part],
                "labels": pa.array([labels[i] for i in part], pa.list_(pa.string())),
                "shard": [int(i) % 3 for i in part],
            }
        )
        for part in np.array_split(shuffled, 4)
    ]
    lookup = FrameLookup.from_batches(batches, len(keys), {"labels": None, "shard": np.int32})
    assert lookup.keys.dtype == packed_keys.PACKED and lookup.codes["labels"][0].dtype == np.uint8
    assert lookup.numbers["shard"].dtype == np.uint8  # the smallest integer type that holds the column
    for row, i in enumerate(shuffled.tolist()):
        assert lookup.key(row) == keys[i] and lookup.row(keys[i]) == row
        want = labels[i]
        assert lookup.value("labels", row) == (tuple(want) if want is not None else None)
        assert lookup.value("shard", row) == i % 3
    assert lookup.rows(["x" * 24, keys[0].upper(), keys[0][:-1]]).tolist() == [-1, -1, -1]
