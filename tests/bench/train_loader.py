"""Benchmark: is the loader ever the bottleneck? Training images/s streamed from shards (decode + augment in
DataLoader workers) vs the same model trained on the same frames already decoded and held in memory.

Prints one JSON object; `ratio` = shards / memory (target >= 0.9). The memory baseline runs before and
after the shard run and is averaged, since other processes may share the cores (load average included).
`--gpu` runs both on CUDA (bf16 autocast) and so doubles as the GPU check of the same training code.

    python tests/bench/train_loader.py [--dataset DIR] [--steps 150] [--gpu] [--loader-workers N] [--loader-nice N]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch
from unitscope.train.config import TrainConfig
from unitscope.train.loop import train_step
from unitscope.train.metrics import read
from unitscope.train.shards import list_shards
from unitscope.train.stream import make_loader
from unitscope.train.train import run
from unitscope.train.worker import build_learner, stream_spec

from unitscope.core import memory

SHARED_VIDEOS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "videos"


def make_dataset(tmp: Path) -> str:
    """Ingest the shared real clips (or, without them, generated ones) at the ingest defaults' size."""
    from unitscope.pipeline.config import IngestConfig
    from unitscope.pipeline.ingest import run as ingest

    src = SHARED_VIDEOS
    if not src.is_dir():
        from tests.train.datasets import write_videos

        src = write_videos(tmp / "videos", [60] * 12, size=128)
    out = tmp / "dataset"
    ingest(IngestConfig(src=str(src), out=str(out), fps=2, max_frames=40, size=128, shard_frames=200,
                        workers=0, progress=False))  # fmt: skip
    return str(out)


def in_memory(cfg: TrainConfig, device: torch.device, batches: list[dict], steps: int, warmup: int) -> float:
    _, learner, optimizer, scheduler = build_learner(cfg, device)
    cycle = itertools.cycle(batches)
    for _ in range(warmup):
        train_step(learner, optimizer, scheduler, next(cycle)["views"], device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0, images = time.perf_counter(), 0
    for _ in range(steps):
        views = next(cycle)["views"]
        train_step(learner, optimizer, scheduler, views, device)
        images += sum(v.shape[0] for v in views)
    return images / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default=None)
    ap.add_argument("--steps", type=int, default=150, help="timed steps (40 gave +-0.05 between runs)")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--loader-workers", type=int, default=None, help="default: TrainConfig's")
    ap.add_argument("--loader-nice", type=int, default=None, help="default: TrainConfig's")
    ap.add_argument("--objective", default="temporal")
    ap.add_argument("--width", type=int, default=None)
    ap.add_argument("--view-size", type=int, default=None, help="default: TrainConfig's")
    ap.add_argument("--motion-crops", type=float, default=None, help="default: TrainConfig's")
    ap.add_argument("--gpu", action="store_true", help="train on CUDA (bf16 autocast) instead of the CPU")
    args = ap.parse_args()
    memory.keep_freed_memory()  # as training does, so the in-memory baseline runs alike
    if args.gpu and not torch.cuda.is_available():
        raise SystemExit("--gpu: CUDA is not available here")
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        dataset = args.dataset or make_dataset(Path(tmp))
        given = {"width": args.width, "loader_workers": args.loader_workers, "loader_nice": args.loader_nice,
                 "view_size": args.view_size, "motion_crops": args.motion_crops}  # fmt: skip
        extra = {k: v for k, v in given.items() if v is not None}
        cfg = TrainConfig(dataset=dataset, run=f"{tmp}/run", workers=0, steps=args.warmup + args.steps,
                          batch_size=args.batch_size, objective=args.objective,
                          use_gpu=args.gpu, checkpoint_every=10**6, log_every=10**6, **extra)  # fmt: skip
        device = torch.device("cuda" if args.gpu else "cpu")
        stream = stream_spec(cfg, list_shards(dataset), 0, 1, cfg.seed)
        batches = list(itertools.islice(iter(make_loader(stream, 0)), 8))
        mem_before = in_memory(cfg, device, batches, args.steps, args.warmup)
        t0 = time.perf_counter()
        result = run(cfg)
        wall = time.perf_counter() - t0
        rows = read(cfg.run)[args.warmup :]
        shard_ips = sum(r["images_per_s"] * r["step_s"] for r in rows) / sum(r["step_s"] for r in rows)
        data_wait = sum(r["data_s"] for r in rows) / sum(r["step_s"] for r in rows)
        mem_after = in_memory(cfg, device, batches, args.steps, args.warmup)
    held = (mem_before + mem_after) / 2
    print(json.dumps({
        "bench": "train_loader",
        "device": torch.cuda.get_device_name() if args.gpu else f"cpu ({os.cpu_count()} cores)",
        "objective": cfg.objective, "arch": cfg.arch, "width": cfg.width, "input_size": cfg.input_size, "view_size": cfg.view_size, "motion_crops": cfg.motion_crops,
        "batch_size": cfg.batch_size, "loader_workers": cfg.loader_workers, "loader_nice": cfg.loader_nice,
        "train_threads": torch.get_num_threads(), "steps_timed": len(rows),
        "images_per_s_from_shards": round(shard_ips, 1),
        "images_per_s_in_memory": round(held, 1),
        "in_memory_before_after": [round(mem_before, 1), round(mem_after, 1)],
        "ratio": round(shard_ips / held, 3), "target": 0.9,
        "fraction_of_step_waiting_for_data": round(data_wait, 3),
        "shard_run_wall_s": round(wall, 1), "result_images_per_s": round(result.images_per_s, 1),
        "load_avg_before": round(load, 2), "load_avg_after": round(os.getloadavg()[0], 2),
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
