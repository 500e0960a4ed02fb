"""Micro-batching for the query server: concurrent image queries share one encoder forward pass and one
index search, and the search of one batch runs while the next batch goes through the encoder."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import anyio

Futures = list[asyncio.Future]


class Batcher:
    """Collects items submitted while a batch is running and passes them through `stages` together.

    The first stage gets the list of items, each later stage the result of the one before, and the last
    returns one result per item. Each stage runs in a worker thread, one batch at a time, and hands its
    result on as soon as the next stage is free: with two stages, batch k's second stage overlaps batch
    k+1's first (a pipeline; on two cores the encoder and the index search run at once). A batch is all
    that arrived while the first stage was busy, up to `max_batch`. An exception fails its whole batch.
    """

    def __init__(self, *stages: Callable[[Any], Any], max_batch: int = 32):
        if not stages:
            raise ValueError("a Batcher needs at least one stage")
        self.stages = stages
        self.max_batch = max_batch
        self._queue: asyncio.Queue | None = None
        self._tasks: list[asyncio.Task] = []

    async def submit(self, item: Any) -> Any:
        if self._queue is None:
            self._start()
        assert self._queue is not None
        fut = asyncio.get_running_loop().create_future()
        await self._queue.put((item, fut))
        return await fut

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        # between stages: at most one finished batch waits for the next stage (back-pressure)
        handoffs: list[asyncio.Queue] = [asyncio.Queue(maxsize=1) for _ in self.stages[1:]]
        self._tasks = [loop.create_task(self._first(handoffs[0] if handoffs else None))]
        for i, stage in enumerate(self.stages[1:]):
            out = handoffs[i + 1] if i + 1 < len(handoffs) else None
            self._tasks.append(loop.create_task(self._later(stage, handoffs[i], out)))

    async def _first(self, out: asyncio.Queue | None) -> None:
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            live = [(item, fut) for item, fut in batch if not fut.cancelled()]
            if live:
                await self._run(self.stages[0], [item for item, _ in live], [fut for _, fut in live], out)

    async def _later(
        self, stage: Callable[[Any], Any], inq: asyncio.Queue, out: asyncio.Queue | None
    ) -> None:
        while True:
            value, futs = await inq.get()
            await self._run(stage, value, futs, out)

    @staticmethod
    async def _run(stage: Callable[[Any], Any], value: Any, futs: Futures, out: asyncio.Queue | None) -> None:
        try:
            result = await anyio.to_thread.run_sync(stage, value)
            if out is None and len(result) != len(futs):
                raise RuntimeError(f"a batch of {len(futs)} items gave {len(result)} results")
        except Exception as exc:
            for fut in futs:
                if not fut.done():
                    fut.set_exception(exc)
            return
        if out is not None:
            await out.put((result, futs))
            return
        for fut, r in zip(futs, result, strict=True):
            if not fut.done():
                fut.set_result(r)

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()
