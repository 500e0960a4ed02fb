"""Executors: run `process_shard` over the pending shard specs in this process, or as Ray tasks (one task
per shard, a bounded number in flight, retries when a worker dies)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator

from pipeline.errors import ConfigError
from pipeline.manifest import ShardStatus
from pipeline.plan import ShardSpec
from pipeline.progress import Progress, RemoteCounter
from pipeline.worker import process_shard

log = logging.getLogger(__name__)


def run_in_process(specs: list[ShardSpec], progress: Progress) -> Iterator[ShardStatus]:
    for spec in specs:
        yield process_shard(spec, progress.add)


def _ray_process_shard(spec: ShardSpec, counter) -> ShardStatus:
    pending = [0, 0, 0.0]

    def report(videos: int, frames: int) -> None:
        pending[0] += videos
        pending[1] += frames
        now = time.monotonic()
        if now - pending[2] > 0.5:
            counter.add.remote(pending[0], pending[1])
            pending[:] = [0, 0, now]

    status = process_shard(spec, report)
    counter.add.remote(pending[0], pending[1])
    return status


def ensure_ray(address: str | None) -> None:
    """Use the Ray the caller started, or start one: the given cluster, else a fresh local Ray."""
    import ray

    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    try:
        ray.init(address=address or "local", include_dashboard=False, logging_level=logging.WARNING)
    except Exception as exc:  # ray raises ConnectionError, RuntimeError, ValueError...
        if not address:
            raise
        raise ConfigError(
            f"could not attach to the Ray cluster at {address!r}: {exc}; check the address and that the "
            "head is running, or drop --address/RAY_ADDRESS to run on local Ray"
        ) from exc


def run_ray(
    specs: list[ShardSpec],
    workers: int | None,
    max_retries: int,
    progress: Progress,
    address: str | None = None,
) -> Iterator[ShardStatus]:
    """Yield each shard's status as its task finishes; a task that still fails after its retries gives a
    `failed` status naming the error (the job goes on)."""
    import ray

    ensure_ray(address)
    slots = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    counter = ray.remote(num_cpus=0)(RemoteCounter).remote()
    task = ray.remote(_ray_process_shard).options(num_cpus=1, max_retries=max_retries, retry_exceptions=True)
    queue = list(reversed(specs))
    running: dict = {}
    try:
        while queue or running:
            while queue and len(running) < slots:
                spec = queue.pop()
                running[task.remote(spec, counter)] = spec
            done, _ = ray.wait(list(running), num_returns=1, timeout=0.5)
            progress.add(*ray.get(counter.take.remote()))
            for ref in done:
                spec = running.pop(ref)
                try:
                    yield ray.get(ref)
                except Exception as exc:  # the task's last retry failed: the shard is recorded as failed
                    log.warning("shard %d failed after %d retries: %s", spec.index, max_retries, exc)
                    yield ShardStatus(
                        index=spec.index,
                        status="failed",
                        videos=len(spec.videos),
                        error=f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
                    )
    finally:
        for ref in running:
            ray.cancel(ref, force=True)
        ray.kill(counter)
