"""Executors: run `process_shard` over the pending shard specs in this process, or as Ray tasks (one task
per shard, a bounded number in flight, retries when a worker dies). While a local Ray starts (seconds),
the driver builds shards itself, so start-up is not idle time."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from unitscope.pipeline.manifest import ShardStatus
from unitscope.pipeline.plan import ShardSpec
from unitscope.pipeline.progress import Progress
from unitscope.pipeline.worker import process_shard

from unitscope.core import task_loop
from unitscope.core.failure_log import FailureLog, one_line
from unitscope.core.ray_runtime import cluster_address, ensure_ray

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 0.5


def run_in_process(
    specs: list[ShardSpec], progress: Progress, failures: FailureLog | None = None
) -> Iterator[ShardStatus]:
    """Build each shard here; one that raises is a `failed` status (one log line, its traceback in
    `failures`' file), and the job goes on, as on Ray."""
    failures = failures or FailureLog("ingest")
    for spec in specs:
        try:
            yield process_shard(spec, progress.add)
        except Exception as exc:
            log.warning("%s", failures.add(f"shard {spec.index} failed", exc))
            yield ShardStatus(
                index=spec.index, status="failed", videos=len(spec.videos), error=_failure(exc, 0)
            )


class StartupShards:
    """Builds shards from the front of `todo` in a driver thread until `stop()`: the work done while local
    Ray starts. A shard that fails here goes back to `todo`, so Ray (with its retries) builds it."""

    def __init__(self, todo: deque[ShardSpec], lock: threading.Lock, progress: Progress, threads: int = 1):
        self.todo = todo
        self.lock = lock
        self.progress = progress
        self.built: list[ShardStatus] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, name=f"unitscope-startup-shards-{i}", daemon=True)
            for i in range(threads)
        ]
        for t in self._threads:
            t.start()

    def _run(self) -> None:
        while True:
            with self.lock:
                if self._stop.is_set() or not self.todo:
                    return
                spec = self.todo.popleft()
            try:
                status = process_shard(spec, self.progress.add)
            except Exception as exc:  # a storage error: leave the shard to Ray's retrying tasks
                log.warning(
                    "shard %d failed in the driver (%s); handing it to Ray", spec.index, one_line(exc)
                )
                with self.lock:
                    self.todo.appendleft(spec)
                return
            with self.lock:
                self.built.append(status.model_copy(update={"built_by": "driver"}))

    def stop(self) -> None:
        """Take no further shard; the one being built is finished."""
        self._stop.set()

    @property
    def busy(self) -> int:
        """Threads still building a shard (each holds a CPU)."""
        return sum(t.is_alive() for t in self._threads)

    def take(self) -> list[ShardStatus]:
        with self.lock:
            out, self.built = self.built, []
        return out

    def join(self) -> None:
        for t in self._threads:
            t.join()


@functools.cache
def _builder() -> ThreadPoolExecutor:
    """The one thread of this worker process that builds its shards, task after task. A new thread per
    task got a glibc malloc arena of its own each time, and a Ray worker's peak grew by ~0.3 MB a task
    (17 MB over 50 shards), which a million-frame ingest (500 tasks a worker) would have multiplied."""
    return ThreadPoolExecutor(1, thread_name_prefix="shard-builder")


def _ray_build_shard(spec: ShardSpec) -> Iterator[tuple[int, int] | ShardStatus]:
    """A Ray generator task: (videos, frames) progress increments about twice a second while the shard is
    built (in the worker's builder thread), then the shard's status; a failure is raised after the progress."""
    updates: queue.SimpleQueue = queue.SimpleQueue()
    result: list = []

    def build() -> None:
        try:
            result.append(process_shard(spec, lambda videos, frames: updates.put((videos, frames))))
        except BaseException as exc:  # re-raised in the task below, where Ray retries it
            result.append(exc)
        finally:
            updates.put(None)

    _builder().submit(build)
    videos = frames = 0
    last = time.monotonic()
    while (update := updates.get()) is not None:
        videos, frames = videos + update[0], frames + update[1]
        if time.monotonic() - last > PROGRESS_EVERY_S:
            yield videos, frames
            videos = frames = 0
            last = time.monotonic()
    yield videos, frames
    if isinstance(result[0], BaseException):
        raise result[0]
    yield result[0]


def _failure(exc: Exception, retries: int) -> str:
    """A failed shard's error for its manifest row: the task's own exception (not Ray's wrapper), and the fix."""
    cause = getattr(exc, "cause", None) or exc  # RayTaskError carries the task's exception as `cause`
    text = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    return (
        f"{type(cause).__name__}: {text} (after {retries} retries); fix the cause (storage, permissions, "
        "memory) and run the same command again: it builds only the missing shards"
    )


def run_ray(
    specs: list[ShardSpec],
    workers: int | None,
    max_retries: int,
    progress: Progress,
    address: str | None = None,
    failures: FailureLog | None = None,
) -> Iterator[ShardStatus]:
    """Yield each shard's status as its task finishes; a task that still fails after its retries gives a
    `failed` status naming the error (the job goes on). Each task reserves as many CPUs as it decodes
    with (`settings.threads`, at least 1). When this call starts a local Ray, the driver builds shards
    until Ray is up, and Ray is shut down at the end."""
    import ray

    failures = failures or FailureLog("ingest")
    todo, lock = deque(specs), threading.Lock()
    cpus = max(1, specs[0].settings.threads) if specs else 1
    startup = None
    if not ray.is_initialized() and cluster_address(address) is None:
        local_slots = max(1, (os.cpu_count() or 1) // cpus)
        startup = StartupShards(todo, lock, progress, threads=min(workers or local_slots, local_slots))
    try:
        started = ensure_ray(address)
    finally:
        if startup is not None:
            startup.stop()
    slots = workers or max(1, int(ray.cluster_resources().get("CPU", 1)) // cpus)
    task = ray.remote(_ray_build_shard).options(
        num_cpus=cpus, num_returns="streaming", max_retries=max_retries, retry_exceptions=True
    )
    # the driver's last start-up shards still hold CPUs: the loop runs as many tasks fewer until they end
    loop = task_loop.bounded(task.remote, todo, slots, PROGRESS_EVERY_S, streaming=True, held=startup)
    try:
        with contextlib.closing(loop):  # leaving early cancels the running tasks before Ray shuts down
            for finished in loop:
                if startup is not None:
                    yield from startup.take()
                if finished is None:
                    continue
                spec, ref = finished
                try:
                    item = ray.get(ref)
                except Exception as exc:  # the task's last retry failed: the shard is recorded as failed
                    log.warning(
                        "%s", failures.add(f"shard {spec.index} failed after {max_retries} retries", exc)
                    )
                    yield ShardStatus(
                        index=spec.index,
                        status="failed",
                        videos=len(spec.videos),
                        error=_failure(exc, max_retries),
                    )
                    continue
                if isinstance(item, ShardStatus):
                    yield item
                else:
                    progress.add(*item)
        if startup is not None:
            startup.join()
            yield from startup.take()
    finally:
        if started:
            ray.shutdown()
