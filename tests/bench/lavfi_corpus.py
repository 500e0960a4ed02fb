"""A large H.264 corpus made cheaply and deterministically from FFmpeg's lavfi sources, cached on disk.

Encoding is what costs (libx264 veryfast at 320x240: ~1.5 ms a frame, 25 min of two cores for a million
frames), so only `unique` ten-second segments (one 250-frame GOP each) are encoded, from five moving,
textured sources (testsrc2, mandelbrot, life, cellauto, gradients) with seeded parameters and hue shifts.
Each clip of the corpus is four segments, chosen by a seeded draw, joined without re-encoding (FFmpeg's
concat demuxer, stream copy): a file of 1,000 real H.264 frames that every decoder decodes in full. Frames
repeat across clips (each segment appears in ~10 clips of a million-frame corpus); no clip repeats one.
Each clip gets a label sidecar naming its source per frame, so the probe has concepts to search for.
Clip i is the same file whatever the corpus size, so a smaller corpus is a prefix of a larger one.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

WIDTH, HEIGHT, RATE = 320, 240, 25
SEGMENT = 250  # frames: one GOP, so segments join at keyframes
PER_CLIP = 4  # segments a clip
SOURCES = ("testsrc2", "mandelbrot", "life", "cellauto", "gradients")


def source(u: int) -> tuple[str, str]:
    """Segment u's concept name and lavfi source (seeded by u)."""
    name = SOURCES[u % len(SOURCES)]
    size = f"size={WIDTH}x{HEIGHT}:rate={RATE}"
    args = {
        "testsrc2": "",
        "mandelbrot": f":start_x={-0.743 + (u % 97) * 1e-4}:start_y={0.131 + (u % 89) * 1e-4}",
        "life": f":seed={u}:ratio=0.3:mold=8:life_color=#30c060:death_color=#402010",
        "cellauto": f":seed={u}:rule={(30, 90, 110, 150)[u % 4]}:random_fill_ratio=0.5",
        "gradients": f":seed={u}:speed=0.05:nb_colors=4",
    }[name]
    return name, f"{name}={size}{args}"


def _run(cmd: list[str]) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *cmd], check=True)


def _segment(d: Path, u: int) -> Path:
    out = d / "segments" / f"seg{u:05d}.mp4"
    if not out.exists():
        _, src = source(u)
        tmp = out.with_suffix(".tmp.mp4")
        _run(["-f", "lavfi", "-i", src, "-frames:v", str(SEGMENT), "-vf", f"hue=h={(u * 37) % 360}",
              "-c:v", "libx264", "-preset", "veryfast", "-threads", "1", "-g", str(SEGMENT),
              "-keyint_min", str(SEGMENT), "-sc_threshold", "0", "-pix_fmt", "yuv420p", str(tmp)])  # fmt: skip
        tmp.rename(out)
    return out


def _clip(d: Path, i: int, segments: list[Path], unique: int) -> Path:
    out = d / "clips" / f"clip{i:06d}.mp4"
    if not out.exists():
        picks = random.Random(f"clip{i}").sample(range(unique), PER_CLIP)
        listing = d / "clips" / f"clip{i:06d}.txt"
        listing.write_text("".join(f"file '{segments[u]}'\n" for u in picks))
        frames = [
            {"frame": s * SEGMENT + f, "objects": [{"concept": source(u)[0], "box": [0, 0, WIDTH, HEIGHT],
                                                    "visible": 1.0}]}
            for s, u in enumerate(picks) for f in range(SEGMENT)
        ]  # fmt: skip
        sidecar = {"version": 1, "concepts": sorted({source(u)[0] for u in picks}), "frames": frames}
        out.with_suffix(".labels.json").write_text(json.dumps(sidecar, separators=(",", ":")))
        tmp = out.with_suffix(".tmp.mp4")
        _run(["-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(tmp)])
        listing.unlink()
        tmp.rename(out)
    return out


def make_corpus(cache: Path, frames: int, unique: int = 400, procs: int = 2) -> list[Path]:
    """The first ceil(frames / 1000) clips of the corpus under `cache` (made where missing), in order."""
    d = cache / f"lavfi-{WIDTH}x{HEIGHT}-{RATE}-u{unique}"
    for sub in ("segments", "clips"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    n = -(-frames // (SEGMENT * PER_CLIP))
    with ThreadPoolExecutor(procs) as pool:
        segments = list(pool.map(lambda u: _segment(d, u), range(unique)))
        return list(pool.map(lambda i: _clip(d, i, segments, unique), range(n)))


def write_list(clips: list[Path], path: Path) -> Path:
    """A `.txt` list of the clips, which `unitscope ingest` takes as SRC."""
    path.write_text("".join(f"{c}\n" for c in clips))
    return path


def disk_bytes(path: Path) -> int:
    """Bytes of the files under `path` (a file or a folder)."""
    if path.is_file():
        return path.stat().st_size
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)
