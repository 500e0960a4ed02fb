"""Tiny test videos made with PyAV (and FFmpeg's CLI for display rotation): codecs, containers, odd sizes,
variable frame rate, and broken files."""

from __future__ import annotations

import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def picture(i: int, width: int, height: int) -> np.ndarray:
    """Frame `i`: a gradient, a white square that moves with i, and a red marker in the top-left corner
    (so orientation can be checked after rotation)."""
    y, x = np.mgrid[0:height, 0:width]
    img = np.stack([(x * 255 // max(1, width - 1)), (y * 255 // max(1, height - 1)), np.full_like(x, 96)], -1)
    img = img.astype(np.uint8)
    s = max(4, min(width, height) // 5)
    x0 = (i * 7) % max(1, width - s)
    img[height // 2 - s // 2 : height // 2 + s // 2, x0 : x0 + s] = 255
    m = max(4, min(width, height) // 6)
    img[:m, :m] = (255, 0, 0)
    return img


def make_video(
    path: Path,
    *,
    codec: str = "libx264",
    width: int = 160,
    height: int = 96,
    frames: int = 20,
    rate: int = 10,
    vfr: bool = False,
    pix_fmt: str = "yuv420p",
    audio: bool = False,
    options: dict | None = None,
    container_options: dict | None = None,
) -> Path:
    """Encode `frames` frames of `picture`; with `vfr`, frame durations alternate between 1 and 3 ticks."""
    path = Path(path)
    with av.open(str(path), "w", options=container_options or {}) as out:
        if frames:
            stream = out.add_stream(codec, rate=rate)
            stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
            stream.options = options or {}
            if vfr:
                stream.codec_context.time_base = Fraction(1, rate * 2)
            pts = 0
            for i in range(frames):
                frame = av.VideoFrame.from_ndarray(picture(i, width, height), format="rgb24")
                if vfr:
                    frame.pts = pts
                    frame.time_base = Fraction(1, rate * 2)
                    pts += 1 if i % 2 == 0 else 3
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
        if audio:
            a = out.add_stream("aac", rate=16000)
            samples = np.zeros((1, 1024), dtype=np.float32)
            for k in range(16):
                af = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
                af.sample_rate = 16000
                af.pts = k * 1024
                for packet in a.encode(af):
                    out.mux(packet)
            for packet in a.encode():
                out.mux(packet)
    return path


def rotate(src: Path, dst: Path, degrees: int) -> Path | None:
    """Copy `src` with a display-matrix rotation (FFmpeg CLI); None when this FFmpeg cannot write one."""
    if not shutil.which("ffmpeg"):
        return None
    for args in (
        ["-display_rotation", str(degrees), "-i", str(src)],
        ["-i", str(src), "-metadata:s:v:0", f"rotate={degrees}"],
    ):
        cmd = ["ffmpeg", "-v", "error", "-y", *args, "-c", "copy", str(dst)]
        if subprocess.run(cmd, capture_output=True).returncode == 0:
            with av.open(str(dst)) as c:
                if next(c.decode(video=0)).rotation:
                    return dst
    return None


def autorotated_first_frame(path: Path) -> np.ndarray:
    """FFmpeg CLI's own rendering of frame 0 (it applies the display matrix), as RGB."""
    raw = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(path),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout
    with av.open(str(path)) as c:
        f = next(c.decode(video=0))
        w, h = (f.height, f.width) if f.rotation % 180 else (f.width, f.height)
    return np.frombuffer(raw, np.uint8).reshape(h, w, 3)


def truncate(src: Path, dst: Path, keep: float = 0.5) -> Path:
    data = Path(src).read_bytes()
    Path(dst).write_bytes(data[: int(len(data) * keep)])
    return Path(dst)
