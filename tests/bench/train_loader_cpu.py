"""Benchmark: where the loader's CPU goes, per training image, next to the training step's own CPU per image.

CPU seconds of this process (`time.process_time`, so other load on the machine matters little) for each
stage of the shard stream, one at a time and in-process: tar reading (per frame read), pairing + shuffle,
JPEG decode (per decode), a view's geometry, a batch's colour augmentation (per view), a batch's
motion-centred views (per pair of neighbouring frames); then the whole stream per view, and what the
training process itself spends per view receiving batches from one DataLoader worker (IPC). The baseline
in the same run is the training step on the same batches held in memory; `loader_share` = loader CPU /
(loader + training CPU) per image, the fraction of the machine the loader takes from training.

    python tests/bench/train_loader_cpu.py [--dataset DIR] [--views 2560]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np
import torch
from unitscope.train import augment, motion, pairs
from unitscope.train.config import TrainConfig
from unitscope.train.loop import train_step
from unitscope.train.shards import list_shards, plan_units, slot_frames
from unitscope.train.stream import ShardStream, make_loader
from unitscope.train.worker import build_learner, stream_spec

from tests.bench.train_loader import make_dataset
from unitscope.core import memory


def cpu_us(fn, n: int) -> float:
    """CPU microseconds of `fn()` per item, best of 3."""
    best = math.inf
    for _ in range(3):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return round(best / n * 1e6, 1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default=None)
    ap.add_argument("--views", type=int, default=2560, help="views per measurement (multiple of 128)")
    args = ap.parse_args()
    memory.keep_freed_memory()  # as training does, so the in-memory baseline runs alike
    train_threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in a loader worker; the training baseline gets the default back
    with tempfile.TemporaryDirectory() as tmp:
        dataset = args.dataset or make_dataset(Path(tmp))
        cfg = TrainConfig(dataset=dataset, run=f"{tmp}/run", workers=0)
        spec = stream_spec(cfg, list_shards(dataset), 0, 1, cfg.seed)
        n = args.views
        units = plan_units(list(spec.shard_urls), 1)
        frames = list(itertools.islice(slot_frames(units, 0, 1, 0, {}), n))
        min_side = math.ceil(spec.input_size / math.sqrt(spec.crop_scale_min))
        ims = [augment.decode(f.jpg, min_side) for f in frames[:500]]
        rng = np.random.default_rng(0)
        neighbours = [ims[i : i + 2] for i in range(0, len(ims) - 1, 2)]
        held = np.stack([augment.view(im, spec.input_size, spec.crop_scale_min, rng) for im in ims])
        neighbour_batches = [neighbours[i : i + spec.batch] for i in range(0, len(neighbours), spec.batch)]

        def pairing() -> None:
            r = random.Random(0)
            made = pairs.temporal_pairs(iter(frames), spec.max_gap_s, r)
            groups = pairs.video_groups(made, spec.group, spec.max_gap_s)
            list(pairs.flattened(pairs.shuffled(groups, spec.shuffle_buffer // spec.group, r)))

        per_batch = spec.batch * (2 if spec.temporal else 1)
        batches = max(1, n // per_batch)
        stream = iter(ShardStream(spec))
        next(stream)
        stages = {
            "tar_read_per_frame": cpu_us(lambda: list(itertools.islice(slot_frames(units, 0, 1, 0, {}), n)), n),
            "pairing_per_frame": cpu_us(pairing, n),
            "decode_per_decode": cpu_us(lambda: [augment.decode(f.jpg, min_side) for f in frames[:500]], 500),
            "view_geometry_per_view": cpu_us(lambda: [augment.view(im, spec.input_size, spec.crop_scale_min, rng)
                                                      for im in ims], len(ims)),
            "view_colour_per_view": cpu_us(lambda: augment.colour(held, rng), len(held)),
            "motion_views_per_pair": cpu_us(lambda: [motion.batch_views(b, spec.input_size, rng) for b in
                                                     neighbour_batches], len(ims) // 2),
            "stream_per_view": cpu_us(lambda: [next(stream) for _ in range(batches)], batches * per_batch),
            "receive_per_view": receive_cpu_us(spec, batches, per_batch),
        }  # fmt: skip
        torch.set_num_threads(train_threads)
        train_cpu, train_wall = train_step_us(cfg, [next(stream)["views"] for _ in range(4)], per_batch)
    loader_us = stages["stream_per_view"] + stages["receive_per_view"]
    print(json.dumps({
        "bench": "train_loader_cpu", "cpu_us": stages, "loader_cpu_us_per_view": round(loader_us, 1),
        "train_step_cpu_us_per_view": train_cpu, "train_step_wall_us_per_view": train_wall,
        "train_threads": train_threads, "loader_share": round(loader_us / (loader_us + train_cpu), 3),
        "load_avg": round(os.getloadavg()[0], 2),
    }, indent=2))  # fmt: skip


def receive_cpu_us(spec, batches: int, per_batch: int) -> float:
    """CPU of the receiving (training) process per view, batches coming from one loader worker."""
    loader = iter(make_loader(spec, 1))
    for _ in range(4):
        next(loader)
    return cpu_us(lambda: [next(loader) for _ in range(batches)], batches * per_batch)


def train_step_us(cfg: TrainConfig, held: list[list[torch.Tensor]], per_batch: int) -> tuple[float, float]:
    """(CPU, wall) microseconds per view of the training step on batches held in memory. CPU includes the
    intra-op threads' spin-waits, so it reads high when other processes share the cores."""
    device = torch.device("cpu")
    _, learner, optimizer, scheduler = build_learner(cfg, device)
    for views in held:
        train_step(learner, optimizer, scheduler, views, device)
    steps = 8
    w0 = time.perf_counter()
    cpu = cpu_us(lambda: [train_step(learner, optimizer, scheduler, held[i % 4], device) for i in range(steps)],
                 steps * per_batch)  # fmt: skip
    wall = (time.perf_counter() - w0) / 3 / (steps * per_batch) * 1e6
    return cpu, round(wall, 1)


if __name__ == "__main__":
    main()
