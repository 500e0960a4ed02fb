"""`unitscope train DATASET RUN`: learn an unsupervised encoder from a dataset's shards."""

from __future__ import annotations

import argparse

from unitscope.infra.options import (
    add_common,
    add_max_bad_frames,
    add_profile,
    build_config,
    epilog_when_shown,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train an unsupervised encoder on a dataset's shards (Ray Train)",
        description="Learn an encoder without labels from DATASET's shards (streamed, split over Ray Train "
        "workers) and write RUN: config.json, metrics.jsonl, tb/ (TensorBoard), checkpoints/, loss.png, encoder.pt.",
    )
    p.add_argument(
        "dataset", metavar="DATASET", help="dataset directory written by `unitscope ingest` (fsspec URL)"
    )
    p.add_argument(
        "run", metavar="RUN", help="run directory for checkpoints, metrics and the encoder (fsspec URL)"
    )
    p.add_argument(
        "--objective", default=None, metavar="NAME", help="the objective, listed below (default: temporal)"
    )
    p.add_argument("--arch", default=None, help="encoder (default: the objective's, listed below)")
    p.add_argument(
        "--width", type=int, default=None, help="first-layer channels; kmeans: centroids (default below)"
    )
    p.add_argument(
        "--steps", type=int, default=None, help="optimisation steps; kmeans: Lloyd iterations (default below)"
    )
    p.add_argument("--batch-size", type=int, default=None, help="global batch size (default 64)")
    p.add_argument(
        "--workers", type=int, default=None, help="Ray Train workers; 0 = in this process (default 1)"
    )
    add_profile(p, "temporal conv4 width 128, batch 256, 12k steps, 14 loader workers")
    p.add_argument(
        "--tensorboard",
        default=None,
        metavar="DIR",
        help="where TensorBoard events go (default RUN/tb): loss, lr, images/s, loader share",
    )
    p.add_argument(
        "--resume", action="store_true", default=None, help="continue RUN from its last checkpoint"
    )
    add_max_bad_frames(p)
    add_common(p)
    p.set_defaults(func=main)
    epilog_when_shown(p, _objectives)


def _objectives() -> str:
    from unitscope.train.config import LOSS_ARCHS
    from unitscope.train.objectives import registry

    rows = []
    for o in map(registry.get, registry.names()):
        rows.append(f"  {o.name:9} {o.help}\n{'':12}arch {o.arch} ({', '.join(o.archs or LOSS_ARCHS)}), "
                    f"width {o.width}, steps {o.steps}")  # fmt: skip
    return "objectives (train/objectives/):\n" + "\n".join(rows)


def main(args: argparse.Namespace) -> int:
    from unitscope.train.config import TrainConfig
    from unitscope.train.train import run

    result = run(build_config(TrainConfig, args))  # checks its inputs before Ray starts
    print(
        f"trained {result.steps} steps (from step {result.start_step}) in {result.seconds:.0f}s, "
        f"{result.images_per_s:.0f} images/s, final loss {result.final_loss:.4f}, "
        f"{result.skipped_frames} frames skipped; encoder: {result.encoder}"
    )
    return 0
