"""Micro-batching for the query server: concurrent image queries share encoder forward passes and index
searches, in a pipeline whose stages batch on their own (the encoder costs the same per image at any
batch size; an exact index search costs one scan of the index per batch, so it takes all that waits)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any


class Batcher:
    """Passes submitted items through `stages`, each a function from a list of values to one result per
    value. Each stage runs in a thread of its own, one batch at a time, and takes as its batch everything
    that reached it while it was busy (up to `max_batch`): while the second stage works on one batch,
    the first fills the second's queue with the next one (on two cores both run at once). The last
    stage's result is what `submit` returns. An exception fails the batch it was raised for.

    A stage keeps its thread, not any of a pool's: glibc's malloc gives every thread that allocates an
    arena of its own and keeps what is freed there, so the encoder's and the index scan's large buffers,
    made in a different pool thread each time, grew the server by ~100 MB per ten seconds of load at 50
    clients (40 threads) before it levelled off."""

    def __init__(self, *stages: Callable[[list[Any]], list[Any]], max_batch: int = 32):
        if not stages:
            raise ValueError("a Batcher needs at least one stage")
        self.stages = stages
        self.max_batch = max_batch
        self._queues: list[asyncio.Queue] = []
        self._tasks: list[asyncio.Task] = []
        self._threads = [
            ThreadPoolExecutor(1, thread_name_prefix=f"batcher-stage-{i}") for i in range(len(stages))
        ]

    async def submit(self, item: Any) -> Any:
        if not self._queues:
            self._queues = [asyncio.Queue() for _ in self.stages]
            loop = asyncio.get_running_loop()
            self._tasks = [loop.create_task(self._run(i)) for i in range(len(self.stages))]
        fut = asyncio.get_running_loop().create_future()
        self._queues[0].put_nowait((item, fut))
        return await fut

    async def _run(self, i: int) -> None:
        stage, queue = self.stages[i], self._queues[i]
        out = self._queues[i + 1] if i + 1 < len(self._queues) else None
        while True:
            batch = [await queue.get()]
            while len(batch) < self.max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            live = [(value, fut) for value, fut in batch if not fut.done()]  # not cancelled meanwhile
            if not live:
                continue
            try:
                values = [value for value, _ in live]
                results = await asyncio.get_running_loop().run_in_executor(self._threads[i], stage, values)
                if len(results) != len(live):
                    raise RuntimeError(f"a batch of {len(live)} items gave {len(results)} results")
            except Exception as exc:
                for _, fut in live:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for (_, fut), result in zip(live, results, strict=True):
                if out is not None:
                    out.put_nowait((result, fut))
                elif not fut.done():
                    fut.set_result(result)

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for thread in self._threads:
            thread.shutdown(wait=False)
