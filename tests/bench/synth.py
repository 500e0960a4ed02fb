"""Benchmark of `unitscope synth`: frames/s at 640x360 including H.264, with the render/encode split.

Prints one JSON object. Baseline in the same run: libx264 encoding alone of already-rendered frames
(the floor no generator can beat on this machine); the corpus figure is reported as a ratio to it and
to the 300 frames/s target. CPU seconds per frame are reported too, since other processes may share the
cores (the load average before the run is included): `corpus_fps_from_cpu_time` = workers x frames /
CPU seconds of the clip tasks (render, labels, encode, upload) is the rate on cores nobody else uses.

    python tests/bench/synth.py [--videos 4] [--seconds 10] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from unitscope.pipeline.synth import SynthConfig, run
from unitscope.pipeline.synth.encode import ClipEncoder
from unitscope.pipeline.synth.scene import Scene

TARGET = 300.0


def phases(cfg: SynthConfig, frames: int) -> dict:
    """Render and encode one clip's frames in this process, timing each phase (wall and CPU)."""
    scene = Scene(cfg, 0)
    w0, c0 = time.perf_counter(), time.process_time()
    rendered = [scene.render(i)[0] for i in range(frames)]
    w1, c1 = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        enc = ClipEncoder(os.path.join(tmp, "x.mp4"), cfg.width, cfg.height, cfg.fps, cfg.preset, cfg.crf)
        for rgb in rendered:
            enc.write(rgb)
        enc.close()
    w2, c2 = time.perf_counter(), time.process_time()
    return {
        "render_ms_per_frame": round((w1 - w0) / frames * 1e3, 3),
        "encode_ms_per_frame": round((w2 - w1) / frames * 1e3, 3),
        "render_cpu_ms_per_frame": round((c1 - c0) / frames * 1e3, 3),
        "encode_cpu_ms_per_frame": round((c2 - c1) / frames * 1e3, 3),
        "encode_only_fps_one_core": round(frames / (w2 - w1), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--videos", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        cfg = SynthConfig(out=tmp, videos=args.videos, seconds=args.seconds, workers=args.workers)
        split = phases(cfg, min(cfg.frames, 150))
        import ray

        t0 = time.perf_counter()
        ray.init(address="local", num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
        ray_start = time.perf_counter() - t0
        c0 = time.process_time()
        result = run(cfg)
        ray.shutdown()
    frames = result.frames
    fps = frames / result.seconds
    busy = sum(c.render_s + c.encode_s for c in result.clips)
    cpu = sum(c.cpu_s for c in result.clips)
    encode_floor = split["encode_only_fps_one_core"] * args.workers
    print(
        json.dumps(
            {
                "frames": frames,
                "size": f"{cfg.width}x{cfg.height}",
                "workers": args.workers,
                "cpus": os.cpu_count(),
                "load_average_before": round(load, 2),
                "ray_start_s": round(ray_start, 2),
                "corpus_seconds": round(result.seconds, 2),
                "corpus_fps": round(fps, 1),
                "corpus_fps_vs_target": round(fps / TARGET, 3),
                "baseline_encode_only_fps": round(encode_floor, 1),
                "corpus_fps_vs_encode_only": round(fps / encode_floor, 3),
                "worker_wall_ms_per_frame": round(busy / frames * 1e3, 3),
                "worker_cpu_ms_per_frame": round(cpu / frames * 1e3, 3),
                # what the same work gives when the cores are not shared with other processes
                "corpus_fps_from_cpu_time": round(args.workers * frames / cpu, 1),
                "corpus_fps_from_cpu_time_vs_target": round(args.workers * frames / cpu / TARGET, 3),
                "driver_cpu_s": round(time.process_time() - c0, 2),
                **split,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
