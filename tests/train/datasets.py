"""Small real datasets for the train tests: distinct synthetic clips encoded with PyAV, then `ingest`ed."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import webdataset as wds
from PIL import Image, ImageDraw
from unitscope.pipeline import schema
from unitscope.pipeline.config import IngestConfig
from unitscope.pipeline.ingest import run as ingest


def _picture(video: int, t: int, size: int) -> np.ndarray:
    rng = np.random.default_rng(video)
    im = Image.new("RGB", (size, size), tuple(int(c) for c in rng.integers(0, 255, 3)))
    d = ImageDraw.Draw(im)
    for j in range(3):
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        x = (video * 13 + j * 17 + t * 3) % size
        y = (video * 7 + j * 29 + t * 2) % size
        d.ellipse([x, y, x + size // 4, y + size // 5], fill=colour)
    return np.asarray(im)


def write_videos(folder: Path, lengths: list[int], size: int = 64, rate: int = 10) -> Path:
    """One H.264 clip per entry of `lengths` (frames at `rate` fps), each with its own colours."""
    folder.mkdir(parents=True, exist_ok=True)
    for v, n in enumerate(lengths):
        with av.open(str(folder / f"clip{v:02d}.mp4"), "w") as out:
            stream = out.add_stream("libx264", rate=rate)
            stream.width = stream.height = size
            stream.pix_fmt = "yuv420p"
            for t in range(n):
                out.mux(stream.encode(av.VideoFrame.from_ndarray(_picture(v, t, size), format="rgb24")))
            out.mux(stream.encode())
    return folder


def make_dataset(root: Path, lengths: list[int], shard_frames: int, size: int = 48) -> Path:
    src = write_videos(root / "videos", lengths)
    out = root / "dataset"
    cfg = IngestConfig(src=str(src), out=str(out), fps=0, size=size, shard_frames=shard_frames, workers=0,
                       progress=False)  # fmt: skip
    ingest(cfg)
    return out


def corrupt_jpegs(dataset: Path, shard: int, count: int) -> None:
    """Replace the first `count` JPEGs of a committed shard with broken bytes (same keys, same tar layout)."""
    path = dataset / schema.shard_path(shard)
    with path.open("rb") as f:
        members = list(wds.tariterators.tar_file_iterator(f))
    buf = io.BytesIO()
    with wds.TarWriter(buf, encoder=False) as w:
        broken = 0
        for m in members:
            key, ext = m["fname"].split(".", 1)
            data = m["data"]
            if ext == "jpg" and broken < count:
                data, broken = data[:64] + b"\x00" * 64, broken + 1
            w.write({"__key__": key, ext: data})
    path.write_bytes(buf.getvalue())
