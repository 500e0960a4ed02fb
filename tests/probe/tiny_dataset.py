"""A tiny dataset in the ingest format (shards, frames/videos tables) with a known planted concept, and a
run holding an encoder of the train stage's family: for end-to-end probe tests in seconds."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image, ImageDraw
from unitscope.pipeline import schema
from unitscope.train.encoder import EncoderSpec, build_encoder
from unitscope.train.model_io import save_encoder


def frame(rng: np.random.Generator, size: int, disk: bool, boxes: list | None = None) -> bytes:
    """Noise and a few grey boxes; a bright disk when the concept is present (its box appended to
    `boxes`)."""
    arr = rng.integers(40, 140, (size, size, 3), dtype=np.uint8)
    img = Image.fromarray(arr)
    d = ImageDraw.Draw(img)
    for _ in range(2):
        x, y = rng.integers(0, size - 8, 2)
        d.rectangle([x, y, x + 7, y + 7], fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    if disk:
        r = size // 5
        x, y = rng.integers(r, size - r, 2)
        d.ellipse([x - r, y - r, x + r, y + r], fill=(250, 250, 60))
        if boxes is not None:
            boxes.append([int(x - r), int(y - r), int(x + r + 1), int(y + r + 1)])
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def write_dataset(root: Path, videos: int = 12, frames: int = 10, shards: int = 2, size: int = 32) -> Path:
    """`videos` labelled videos of `frames` frames; concept "disk" in runs of frames."""
    rng = np.random.default_rng(0)
    (root / schema.SHARDS_DIR).mkdir(parents=True, exist_ok=True)
    (root / schema.MANIFEST_DIR).mkdir(parents=True, exist_ok=True)
    rows: dict[str, list] = {f.name: [] for f in schema.FRAMES_SCHEMA}
    vrows: dict[str, list] = {f.name: [] for f in schema.VIDEOS_SCHEMA}
    members: dict[int, list[tuple[str, bytes, bytes]]] = {s: [] for s in range(shards)}
    for v in range(videos):
        uri = f"file:///tiny/clip{v:02d}.mp4"
        vid = schema.video_id(uri)
        shard = v % shards
        for t in range(frames):
            present = (t // 3 + v) % 2 == 0
            key = schema.frame_key(vid, t)
            boxes: list = []
            jpg = frame(rng, size, present, boxes)
            objects = [{"concept": "disk", "box": b, "visible": 1.0} for b in boxes]
            meta = {"uri": uri, "video_id": vid, "frame_idx": t, "pts": t / 2, "labels": ["disk"] * present,
                    "objects": objects}  # fmt: skip
            members[shard].append((key, jpg, json.dumps(meta).encode()))
            for name, val in (("key", key), ("video_id", vid), ("shard", shard), ("frame_idx", t),
                              ("pts", t / 2), ("labels", ["disk"] if present else [])):  # fmt: skip
                rows[name].append(val)
        for name, val in (("uri", uri), ("video_id", vid), ("shard", shard), ("status", "ok"), ("error", None),
                          ("codec", "h264"), ("duration", frames / 2), ("fps", 2.0), ("width", size),
                          ("height", size), ("size_bytes", 0), ("frames_written", frames),
                          ("has_labels", True)):  # fmt: skip
            vrows[name].append(val)
    where = {}
    for s, items in members.items():
        path = root / schema.shard_path(s)
        with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tf:
            for key, jpg, js in items:
                for ext, data in (("jpg", jpg), ("json", js)):
                    info = tarfile.TarInfo(f"{key}.{ext}")
                    info.size = len(data)
                    tf.addfile(info, io.BytesIO(data))
        with tarfile.open(path) as tf:
            where.update({m.name[:-4]: (m.offset_data, m.size) for m in tf if m.name.endswith(".jpg")})
    rows["jpg_offset"] = [where[k][0] for k in rows["key"]]
    rows["jpg_size"] = [where[k][1] for k in rows["key"]]
    pq.write_table(pa.table(rows, schema=schema.FRAMES_SCHEMA), root / schema.FRAMES_TABLE)
    pq.write_table(pa.table(vrows, schema=schema.VIDEOS_SCHEMA), root / schema.VIDEOS_TABLE)
    srows = [
        {"shard": s, "path": schema.shard_path(s), "status": "ok", "videos": len(items) // frames,
         "frames": len(items), "bytes": (root / schema.shard_path(s)).stat().st_size, "sha256": "", "error": None}
        for s, items in members.items()
    ]  # fmt: skip
    pq.write_table(pa.Table.from_pylist(srows, schema=schema.SHARDS_SCHEMA), root / schema.SHARDS_TABLE)
    counts = {"videos": videos, "frames": videos * frames}
    (root / schema.DATASET_JSON).write_text(
        json.dumps({"format_version": schema.FORMAT_VERSION, "counts": counts})
    )
    return root


def write_run(root: Path, size: int = 32, seed: int = 1) -> Path:
    """A run directory with an (untrained, seeded) encoder of the train stage's family."""
    save_encoder(build_encoder(EncoderSpec.create("conv4", 8, 3, size), seed), str(root))
    return root
