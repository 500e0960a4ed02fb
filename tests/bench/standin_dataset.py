"""A stand-in dataset of any size for the frame-index benchmark, written in seconds even at 10M frames.

Two real WebDataset shards of a few hundred tiny JPEGs each, and a frames manifest of N rows in the real
schema whose rows point at those shards' JPEGs in turn (so GET /frames/{key}.jpg serves a real image).
The manifest is built with Arrow compute a million rows at a time: no Python object per frame. Keys are
`<video_id>-<frame_idx>` with 1,000 frames a video, in sorted order as ingest writes them.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from PIL import Image
from unitscope.pipeline import schema

PER_VIDEO = 1000
SHARDS = 2
SHARD_FRAMES = 256  # distinct JPEGs in each real shard
ROWS_AT_ONCE = 1 << 20  # manifest rows built at a time (about 100 MB of Arrow buffers)


def _jpeg(rng: np.random.Generator, size: int) -> bytes:
    arr = rng.integers(0, 256, (size // 8, size // 8, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).resize((size, size)).save(buf, "JPEG", quality=80)
    return buf.getvalue()


def _videos(videos: int) -> dict[str, str]:
    """{video id: uri} in video id order (a few thousand videos, not a row per frame)."""
    uris = (f"file:///videos/clip{v:06d}.mp4" for v in range(videos))
    return dict(sorted((schema.video_id(u), u) for u in uris))


def _keys(vids: pa.Array, rows: np.ndarray) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """(keys, video ids, frame indexes) of manifest rows `rows`."""
    video = pc.take(vids, pa.array(rows // PER_VIDEO))
    idx = rows % PER_VIDEO
    digits = pc.utf8_lpad(pc.cast(pa.array(idx), pa.string()), width=7, padding="0")
    return pc.binary_join_element_wise(video, digits, "-"), video, idx


def _write_shards(root: Path, vids: pa.Array, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The real shards (their members named after the first frames' keys); (offset, size) of each JPEG."""
    rng = np.random.default_rng(0)
    keys = _keys(vids, np.arange(SHARDS * SHARD_FRAMES))[0].to_pylist()  # a few hundred, not N
    offsets, sizes = [], []
    for shard in range(SHARDS):
        path = root / schema.shard_path(shard)
        with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tf:
            for key in keys[shard * SHARD_FRAMES : (shard + 1) * SHARD_FRAMES]:
                for ext, data in (("jpg", _jpeg(rng, size)), ("json", json.dumps({"key": key}).encode())):
                    info = tarfile.TarInfo(f"{key}.{ext}")
                    info.size = len(data)
                    tf.addfile(info, io.BytesIO(data))
        with tarfile.open(path) as tf:
            for m in tf:
                if m.name.endswith(".jpg"):
                    offsets.append(m.offset_data)
                    sizes.append(m.size)
    return np.array(offsets, np.int64), np.array(sizes, np.int64)


def _labels(rows: np.ndarray) -> pa.Array:
    """["face"] on every 7th frame, [] elsewhere, as one list array."""
    has = (rows % 7 == 0).astype(np.int32)
    offsets = np.concatenate([[0], np.cumsum(has)]).astype(np.int32)
    values = pc.take(pa.array(["face"]), pa.array(np.zeros(int(has.sum()), np.int32)))
    return pa.ListArray.from_arrays(pa.array(offsets), values)


def write_dataset(root: Path, frames: int, size: int = 64) -> None:
    """Shards, manifest and dataset.json of `frames` frames."""
    (root / schema.SHARDS_DIR).mkdir(parents=True, exist_ok=True)
    (root / schema.MANIFEST_DIR).mkdir(parents=True, exist_ok=True)
    videos = -(-frames // PER_VIDEO)
    uris = _videos(videos)
    vids = pa.array(list(uris), pa.string())
    jpg_offset, jpg_size = _write_shards(root, vids, size)
    with pq.ParquetWriter(root / schema.FRAMES_TABLE, schema.FRAMES_SCHEMA) as out:
        for start in range(0, frames, ROWS_AT_ONCE):
            rows = np.arange(start, min(frames, start + ROWS_AT_ONCE), dtype=np.int64)
            keys, video, idx = _keys(vids, rows)
            jpeg = rows % (SHARDS * SHARD_FRAMES)
            columns = {
                "key": keys,
                "video_id": video,
                "shard": (jpeg // SHARD_FRAMES).astype(np.int32),
                "frame_idx": idx,
                "pts": idx / 2.0,
                "jpg_offset": jpg_offset[jpeg],
                "jpg_size": jpg_size[jpeg],
                "labels": _labels(rows),
            }
            out.write_table(pa.table(columns, schema=schema.FRAMES_SCHEMA))
    vrows = [
        {"uri": u, "video_id": v, "shard": 0, "status": "ok", "error": None, "codec": "h264",
         "duration": PER_VIDEO / 2, "fps": 25.0, "width": size, "height": size, "size_bytes": 0,
         "frames_written": PER_VIDEO, "has_labels": True}
        for v, u in uris.items()
    ]  # fmt: skip
    pq.write_table(pa.Table.from_pylist(vrows, schema=schema.VIDEOS_SCHEMA), root / schema.VIDEOS_TABLE)
    (root / schema.DATASET_JSON).write_text(json.dumps({"format_version": schema.FORMAT_VERSION}))


def make_keys(frames: int) -> pa.Array:
    """The keys a dataset of `frames` frames has, without writing it."""
    vids = pa.array(list(_videos(-(-frames // PER_VIDEO))), pa.string())
    return _keys(vids, np.arange(frames, dtype=np.int64))[0]


def frame_keys(root: Path, sample: int = 0, seed: int = 0) -> pa.Array:
    """The manifest's keys in order, or a random `sample` of them (the load generator's frames)."""
    keys = pq.read_table(root / schema.FRAMES_TABLE, columns=["key"]).column("key").combine_chunks()
    if sample:
        pick = np.sort(np.random.default_rng(seed).choice(len(keys), min(sample, len(keys)), replace=False))
        keys = keys.take(pa.array(pick))
    return keys
