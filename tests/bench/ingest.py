"""Ingest speed against FFmpeg: decode + scale of the same clips with the same number of processes.

    python tests/bench/ingest.py [--clips 40] [--seconds 40] [--workers 2] [--repeat 1] [--corpus DIR]

Makes a corpus of H.264 clips (FFmpeg's testsrc2), runs `unitscope ingest --fps 0` (every frame, 128 px,
JPEG, tars, manifest, Ray start and stop included: the wall time of the whole CLI process) with
--workers N, with --workers 1 and in-process, and times `ffmpeg -i X -vf scale=128:128 -f null -` over
the same clips, N at a time and one at a time. The default corpus (48,000 frames, ~20 s of FFmpeg work on
2 cores) is large enough that a fresh local Ray's start and stop (~5 s together, partly hidden behind
decoding in the driver) do not decide the ratio; `--clips 20 --seconds 20` shows their weight. With
--repeat R the measurements are interleaved R times and each keeps its best rate (the machines are
noisy). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def make_corpus(d: Path, clips: int, seconds: int, width: int, height: int, rate: int) -> list[Path]:
    paths = []
    for i in range(clips):
        p = d / f"clip{i:03d}.mp4"
        src = f"testsrc2=size={width}x{height}:rate={rate}"
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                src,
                "-t",
                str(seconds),
                "-vf",
                f"hue=h={i * 17}",
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-pix_fmt",
                "yuv420p",
                str(p),
            ],
            check=True,
        )
        paths.append(p)
    return paths


def ffmpeg_rate(clips: list[Path], procs: int, size: int) -> tuple[float, int]:
    def one(p: Path) -> int:
        out = subprocess.run(
            [
                "ffmpeg",
                "-hide_banner",
                "-nostats",
                "-i",
                str(p),
                "-vf",
                f"scale={size}:{size}",
                "-f",
                "null",
                "-",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stderr
        return int(re.findall(r"frame=\s*(\d+)", out)[-1])

    t = time.perf_counter()
    with ThreadPoolExecutor(procs) as pool:
        frames = sum(pool.map(one, clips))
    return frames / (time.perf_counter() - t), frames


def ingest_rate(src: Path, out: Path, workers: int, size: int, shard_frames: int) -> tuple[float, int, float]:
    shutil.rmtree(out, ignore_errors=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "infra",
            "ingest",
            str(src),
            str(out),
            "--fps",
            "0",
            "--size",
            str(size),
            "--workers",
            str(workers),
            "--shard-frames",
            str(shard_frames),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    wall = time.perf_counter() - t
    if proc.returncode:
        raise SystemExit(f"ingest failed:\n{proc.stderr}")
    info = json.loads((out / "dataset.json").read_text())
    return info["counts"]["frames"] / wall, info["counts"]["frames"], wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=40)
    ap.add_argument("--seconds", type=int, default=40)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=360)
    ap.add_argument("--rate", type=int, default=30)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--shard-frames", type=int, default=None, help="default: one clip per shard")
    ap.add_argument("--repeat", type=int, default=1, help="interleaved rounds; each figure keeps its best")
    ap.add_argument("--corpus", type=Path, default=None, help="reuse (or make once) the clips in this folder")
    args = ap.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="unitscope-bench-") as tmp:
        d = Path(tmp)
        src = args.corpus or d / "src"
        if not (src.is_dir() and any(src.iterdir())):
            src.mkdir(parents=True, exist_ok=True)
            make_corpus(src, args.clips, args.seconds, args.width, args.height, args.rate)
        clips = sorted(src.iterdir())
        shard_frames = args.shard_frames or args.seconds * args.rate
        best: dict[str, tuple] = {}

        def keep(name: str, value: tuple) -> None:
            if name not in best or value[0] > best[name][0]:
                best[name] = value

        for _ in range(args.repeat):
            keep("ffmpeg_n", ffmpeg_rate(clips, args.workers, args.size))
            keep("ingest_n", ingest_rate(src, d / "out", args.workers, args.size, shard_frames))
            keep("ffmpeg_1", ffmpeg_rate(clips, 1, args.size))
            keep("ingest_1", ingest_rate(src, d / "out", 1, args.size, shard_frames))
            keep("ingest_0", ingest_rate(src, d / "out", 0, args.size, shard_frames))
        (base, base_frames), (base_1, _) = best["ffmpeg_n"], best["ffmpeg_1"]
        (rate_n, frames, wall_n), (rate_1, _, wall_1), (rate_0, _, _) = (
            best["ingest_n"],
            best["ingest_1"],
            best["ingest_0"],
        )
    print(
        json.dumps(
            {
                "load_avg_before": load_before,
                "repeat": args.repeat,
                "corpus": f"{args.clips} clips, {args.seconds}s, {args.width}x{args.height} H.264 @ {args.rate} fps",
                "cpus": os.cpu_count(),
                "frames": frames,
                "ffmpeg_frames": base_frames,
                "ffmpeg_decode_scale_fps": round(base, 1),
                f"ingest_workers{args.workers}_fps": round(rate_n, 1),
                "ingest_workers1_fps": round(rate_1, 1),
                "ffmpeg_1_process_fps": round(base_1, 1),
                "ingest_in_process_fps": round(rate_0, 1),
                "ratio_in_process_vs_ffmpeg_1_process": round(rate_0 / base_1, 3),
                "ingest_wall_s": round(wall_n, 2),
                "ingest_workers1_wall_s": round(wall_1, 2),
                "ratio_ingest_vs_ffmpeg": round(rate_n / base, 3),
                f"ratio_workers{args.workers}_vs_1": round(rate_n / rate_1, 3),
                "targets": {"ratio_ingest_vs_ffmpeg": 0.8, f"ratio_workers{args.workers}_vs_1": 1.6},
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
