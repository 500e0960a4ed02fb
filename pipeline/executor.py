"""Executors: run `process_shard` over the pending shard specs in this process, or as Ray tasks (one task
per shard, a bounded number in flight, retries when a worker dies). While a local Ray starts (seconds),
the driver builds shards itself, so start-up is not idle time."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
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


class StartupShards:
    """Builds shards from the front of `queue` in a driver thread until `stop()`: the work done while local
    Ray starts. A shard that fails here goes back to the queue, so Ray (with its retries) builds it."""

    def __init__(self, queue: deque[ShardSpec], lock: threading.Lock, progress: Progress):
        self.queue = queue
        self.lock = lock
        self.progress = progress
        self.built: list[ShardStatus] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="unitscope-startup-shards", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            with self.lock:
                if self._stop.is_set() or not self.queue:
                    return
                spec = self.queue.popleft()
            try:
                status = process_shard(spec, self.progress.add)
            except Exception as exc:  # a storage error: leave the shard to Ray's retrying tasks
                log.warning("shard %d failed in the driver (%s); handing it to Ray", spec.index, exc)
                with self.lock:
                    self.queue.appendleft(spec)
                return
            with self.lock:
                self.built.append(status.model_copy(update={"built_by": "driver"}))

    def stop(self) -> None:
        """Take no further shard; the one being built is finished."""
        self._stop.set()

    @property
    def busy(self) -> bool:
        return self._thread.is_alive()

    def take(self) -> list[ShardStatus]:
        with self.lock:
            out, self.built = self.built, []
        return out

    def join(self) -> None:
        self._thread.join()


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


def ensure_ray(address: str | None) -> bool:
    """Use the Ray the caller started, or start one: the given cluster, else a fresh local Ray. True when
    this call started or attached it (the caller then shuts it down)."""
    import ray

    if ray.is_initialized():
        return False
    address = cluster_address(address)
    try:
        ray.init(address=address or "local", include_dashboard=False, logging_level=logging.WARNING)
    except Exception as exc:  # ray raises ConnectionError, RuntimeError, ValueError...
        if not address:
            raise
        raise ConfigError(
            f"could not attach to the Ray cluster at {address!r}: {exc}; check the address and that the "
            "head is running, or drop --address/RAY_ADDRESS to run on local Ray"
        ) from exc
    return True


def cluster_address(address: str | None) -> str | None:
    """The cluster to attach to (`address`, else $RAY_ADDRESS); None means a local Ray."""
    return address or os.environ.get("RAY_ADDRESS") or None


def run_ray(
    specs: list[ShardSpec],
    workers: int | None,
    max_retries: int,
    progress: Progress,
    address: str | None = None,
) -> Iterator[ShardStatus]:
    """Yield each shard's status as its task finishes; a task that still fails after its retries gives a
    `failed` status naming the error (the job goes on). Each task reserves as many CPUs as it decodes
    with (`settings.threads`, at least 1). When this call starts a local Ray, the driver builds shards
    until Ray is up, and Ray is shut down at the end."""
    import ray

    queue, lock = deque(specs), threading.Lock()
    startup = None
    if not ray.is_initialized() and cluster_address(address) is None:
        startup = StartupShards(queue, lock, progress)
    try:
        started = ensure_ray(address)
    finally:
        if startup is not None:
            startup.stop()
    cpus = max(1, specs[0].settings.threads) if specs else 1
    slots = workers or max(1, int(ray.cluster_resources().get("CPU", 1)) // cpus)
    counter = ray.remote(num_cpus=0)(RemoteCounter).remote()
    task = ray.remote(_ray_process_shard).options(
        num_cpus=cpus, max_retries=max_retries, retry_exceptions=True
    )
    running: dict = {}
    try:
        while queue or running or (startup is not None and startup.busy):
            # The driver's last start-up shard still holds a CPU: one task fewer until it is done.
            free = slots - (1 if startup is not None and startup.busy and slots > 1 else 0)
            while len(running) < free:
                with lock:
                    if not queue:
                        break
                    spec = queue.popleft()
                running[task.remote(spec, counter)] = spec
            if startup is not None:
                yield from startup.take()
            if not running:
                time.sleep(0.05)  # only the driver's start-up shard is left
                continue
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
        if startup is not None:
            startup.join()
            yield from startup.take()
    finally:
        for ref in running:
            ray.cancel(ref, force=True)
        ray.kill(counter)
        if started:
            ray.shutdown()
