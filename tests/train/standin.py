"""Stand-in dataset writer (until ingest lands): tiny shards in the schema's key format."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import webdataset as wds
from PIL import Image, ImageDraw

from pipeline import schema


def frame_image(rng: np.random.Generator, t: int, size: int, video: int) -> bytes:
    im = Image.new("RGB", (size, size), tuple(int(c) for c in rng.integers(0, 255, 3)))
    d = ImageDraw.Draw(im)
    for j in range(3):
        x = (video * 13 + j * 17 + t * 3) % size
        y = (video * 7 + j * 29 + t * 2) % size
        d.ellipse([x, y, x + size // 4, y + size // 5], fill=tuple(int(c) for c in rng.integers(0, 255, 3)))
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def write_dataset(root: Path, shard_videos: list[list[int]], size: int = 48, corrupt: int = 0) -> Path:
    """shard_videos[i] = frame counts of the videos in shard i. `corrupt` frames of shard 0 get a broken JPEG."""
    rng = np.random.default_rng(0)
    (root / schema.SHARDS_DIR).mkdir(parents=True, exist_ok=True)
    v = 0
    rows = []
    for i, videos in enumerate(shard_videos):
        with wds.TarWriter(str(root / schema.shard_path(i))) as w:
            bad = corrupt if i == 0 else 0
            for n in videos:
                vid = schema.video_id(f"video-{v}.mp4")
                for t in range(n):
                    jpg = frame_image(rng, t, size, v)
                    if bad:
                        jpg, bad = jpg[:40] + b"\x00" * 30, bad - 1
                    meta = {"uri": f"video-{v}.mp4", "video_id": vid, "frame_idx": t, "pts": t * 0.5,
                            "width": size, "height": size, "labels": [], "objects": []}  # fmt: skip
                    key = schema.frame_key(vid, t)
                    w.write({"__key__": key, "jpg": jpg, "json": json.dumps(meta).encode()})
                    rows.append({"key": key, "video_id": vid, "shard": i, "frame_idx": t, "pts": t * 0.5,
                                 "jpg_offset": 0, "jpg_size": len(jpg), "labels": []})  # fmt: skip
                v += 1
    (root / schema.MANIFEST_DIR).mkdir(exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema.FRAMES_SCHEMA), root / schema.FRAMES_TABLE)
    return root
