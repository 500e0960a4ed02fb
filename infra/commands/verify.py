"""`unitscope verify DATASET|RUN`: check every file of a dataset or run against what was written, as an
fsck does; a summary, each problem on one line with the command that rebuilds the file, exit 1 on any."""

from __future__ import annotations

import argparse
import sys

from unitscope.core import storage
from unitscope.core.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "verify",
        help="check a dataset (shards, JPEGs, manifest) or run (encoder, checkpoints, probe outputs)",
        description="Check a dataset: every shard's size, SHA-256 and tar structure, every frame's JPEG, "
        "and the manifest against the tars. Or a run: the encoder and checkpoints load (weights_only), "
        "the catalogue, unit tables, frame index and activations are readable and agree. Exit 1 when "
        "anything is damaged, naming each file and the command that rebuilds it.",
    )
    p.add_argument("target", metavar="DATASET|RUN", help="a dataset or run directory (fsspec URL)")
    p.add_argument(
        "--workers", type=int, default=None, help="check the shards as Ray tasks, N at once (default: here)"
    )
    p.add_argument(
        "--address", default=None, help="Ray cluster for the shard checks ($RAY_ADDRESS otherwise)"
    )
    p.set_defaults(func=main)


def _kind(url: str) -> str:
    fs, root = storage.url_to_fs(url)
    if fs.exists(storage.join(root, "dataset.json")) or fs.exists(storage.join(root, "manifest")):
        return "dataset"
    if any(fs.exists(storage.join(root, n)) for n in ("encoder.json", "config.json", "checkpoints", "probe")):
        return "run"
    raise InputError(f"{url!r} is neither a unitscope dataset nor a run directory; check the path")


def _on_ray(workers: int | None, address: str | None):
    """A `run_tasks` that maps `audit_shard` over Ray tasks, at most `workers` at once."""
    from unitscope.pipeline.audit import audit_shard

    from unitscope.core.ray_runtime import ensure_ray

    def run_tasks(tasks):
        import ray

        ensure_ray(address)
        task = ray.remote(num_cpus=1, max_retries=2)(audit_shard)
        limit = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        queue, pending = list(tasks), []
        while queue or pending:
            while queue and len(pending) < limit:
                pending.append(task.remote(queue.pop(0)))
            ready, pending = ray.wait(pending, num_returns=1)
            yield from ray.get(ready)

    return run_tasks


def main(args: argparse.Namespace) -> int:
    from unitscope.pipeline.audit import audit_dataset
    from unitscope.probe.run_audit import audit_run

    target = storage.absolute(args.target)
    if _kind(target) == "dataset":
        ray = args.workers or args.address
        audit = audit_dataset(target, _on_ray(args.workers, args.address) if ray else None)
    else:
        audit = audit_run(target)
    for p in audit.problems:
        print(p.line(), file=sys.stderr)
    print(audit.summary())
    return 1 if audit.problems else 0
