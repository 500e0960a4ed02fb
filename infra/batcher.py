"""Micro-batching for the query server: concurrent image queries share one encoder forward pass."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import anyio


class Batcher:
    """Collects items submitted while a batch is running and hands them to `fn(items)` together.

    `fn` runs in a worker thread and returns one result per item; an exception fails the whole batch.
    """

    def __init__(self, fn: Callable[[list[Any]], list[Any]], max_batch: int = 32):
        self.fn = fn
        self.max_batch = max_batch
        self._queue: asyncio.Queue | None = None
        self._worker: asyncio.Task | None = None

    async def submit(self, item: Any) -> Any:
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._worker = asyncio.get_running_loop().create_task(self._run())
        fut = asyncio.get_running_loop().create_future()
        await self._queue.put((item, fut))
        return await fut

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            live = [(item, fut) for item, fut in batch if not fut.cancelled()]
            if not live:
                continue
            try:
                results = await anyio.to_thread.run_sync(self.fn, [item for item, _ in live])
            except Exception as exc:
                for _, fut in live:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for (_, fut), result in zip(live, results, strict=False):
                if not fut.done():
                    fut.set_result(result)

    def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
