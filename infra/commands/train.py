"""`unitscope train DATASET RUN`: learn an unsupervised encoder from a dataset's shards."""

from __future__ import annotations

import argparse

from unitscope.infra.options import add_common, add_max_bad_frames, add_profile, build_config

from unitscope.core.ray_runtime import ensure_ray


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train an unsupervised encoder on a dataset's shards (Ray Train)",
        description="Learn an encoder without labels from DATASET's shards (streamed, split over Ray Train "
        "workers) and write RUN: config.json, metrics.jsonl, checkpoints/, loss.png, encoder.pt.",
    )
    p.add_argument(
        "dataset", metavar="DATASET", help="dataset directory written by `unitscope ingest` (fsspec URL)"
    )
    p.add_argument(
        "run", metavar="RUN", help="run directory for checkpoints, metrics and the encoder (fsspec URL)"
    )
    p.add_argument(
        "--objective", default=None, choices=["temporal", "sparse", "kmeans"], help="default: temporal"
    )
    p.add_argument(
        "--arch",
        default=None,
        help="encoder: conv4 (default for temporal), conv5, conv6, le3 (default for sparse), le4; "
        "kmeans goes with --objective kmeans",
    )
    p.add_argument(
        "--width", type=int, default=None, help="first-layer channels; kmeans: centroids (default 32; 512)"
    )
    p.add_argument(
        "--steps", type=int, default=None, help="optimisation steps; kmeans: Lloyd iterations (400; 30)"
    )
    p.add_argument("--batch-size", type=int, default=None, help="global batch size (default 64)")
    p.add_argument(
        "--workers", type=int, default=None, help="Ray Train workers; 0 = in this process (default 1)"
    )
    add_profile(p, "temporal conv4 width 128, batch 256, 12k steps, 14 loader workers")
    p.add_argument(
        "--resume", action="store_true", default=None, help="continue RUN from its last checkpoint"
    )
    add_max_bad_frames(p)
    add_common(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from unitscope.train.config import TrainConfig
    from unitscope.train.train import absolute_paths, check_inputs, run

    config = absolute_paths(build_config(TrainConfig, args))
    check_inputs(config)  # bad input is reported before Ray starts
    if config.workers > 0:
        ensure_ray(config.address)
    result = run(config)
    print(
        f"trained {result.steps} steps (from step {result.start_step}) in {result.seconds:.0f}s, "
        f"{result.images_per_s:.0f} images/s, final loss {result.final_loss:.4f}, "
        f"{result.skipped_frames} frames skipped; encoder: {result.encoder}"
    )
    return 0
