"""The query server's micro-batcher: batches of what arrived together, a two-stage pipeline, failures."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from unitscope.infra.batcher import Batcher


def _run(coro):
    return asyncio.run(coro)


def test_items_that_arrive_together_share_a_batch_and_get_their_own_results():
    sizes: list[int] = []

    def square(items):
        sizes.append(len(items))
        time.sleep(0.05)  # the first batch is busy while the rest arrive
        return [i * i for i in items]

    async def main():
        b = Batcher(square, max_batch=8)
        try:
            return await asyncio.gather(*(b.submit(i) for i in range(20)))
        finally:
            b.close()

    assert _run(main()) == [i * i for i in range(20)]
    assert sum(sizes) == 20 and max(sizes) == 8 and len(sizes) < 20


def test_two_stages_overlap_and_each_item_gets_its_own_result():
    """Stage 2 of one batch runs while stage 1 of the next does (both sleep, releasing the GIL)."""
    spans: dict[str, list[tuple[float, float]]] = {"first": [], "second": []}
    lock = threading.Lock()

    def timed(name, fn):
        def stage(values):
            t0 = time.perf_counter()
            out = fn(values)
            time.sleep(0.1)
            with lock:
                spans[name].append((t0, time.perf_counter()))
            return out

        return stage

    first = timed("first", lambda items: [("x", i) for i in items])
    second = timed("second", lambda pairs: [f"{tag}{i}" for tag, i in pairs])

    async def main():
        b = Batcher(first, second, max_batch=4)
        try:
            return await asyncio.gather(*(b.submit(i) for i in range(12)))
        finally:
            b.close()

    assert _run(main()) == [f"x{i}" for i in range(12)]
    assert len(spans["first"]) == 3 and len(spans["second"]) >= 3
    overlaps = sum(1 for a0, a1 in spans["first"] for b0, b1 in spans["second"] if a0 < b1 and b0 < a1)
    assert overlaps >= 2


def test_a_later_stage_takes_everything_that_reached_it_while_busy():
    """Items trickle through a fast first stage one by one; the slow second stage batches them."""
    sizes: dict[str, list[int]] = {"first": [], "second": []}

    def first(items):
        sizes["first"].append(len(items))
        return items

    def second(items):
        sizes["second"].append(len(items))
        time.sleep(0.3)
        return [-i for i in items]

    async def main():
        b = Batcher(first, second, max_batch=64)

        async def late(i):
            await asyncio.sleep(0.02 * i)
            return await b.submit(i)

        try:
            return await asyncio.gather(*(late(i) for i in range(12)))
        finally:
            b.close()

    assert _run(main()) == [-i for i in range(12)]
    assert max(sizes["second"]) > max(sizes["first"])


def test_a_failing_batch_fails_its_items_and_the_next_batch_still_runs():
    def stage(items):
        if "bad" in items:
            raise ValueError("bad item in batch")
        return [s.upper() for s in items]

    async def main():
        b = Batcher(lambda items: items, stage)
        try:
            with pytest.raises(ValueError, match="bad item"):
                await b.submit("bad")
            return await b.submit("good")
        finally:
            b.close()

    assert _run(main()) == "GOOD"


def test_a_stage_that_loses_results_fails_the_batch_instead_of_hanging():
    async def main():
        b = Batcher(lambda items: items[:-1])
        try:
            return await asyncio.wait_for(asyncio.gather(b.submit(1), b.submit(2), return_exceptions=True), 5)
        finally:
            b.close()

    results = _run(main())
    assert all(isinstance(r, RuntimeError) and "gave" in str(r) for r in results)


def test_needs_a_stage():
    with pytest.raises(ValueError, match="at least one stage"):
        Batcher()


def test_each_stage_keeps_one_thread():
    """A stage always runs on its own thread (glibc keeps an arena per allocating thread: a pool's forty
    threads each kept the encoder's and the index scan's buffers)."""
    threads: dict[str, set[int]] = {"first": set(), "second": set()}

    def stage(name):
        def run(items):
            threads[name].add(threading.get_ident())
            time.sleep(0.002)
            return items

        return run

    async def main():
        b = Batcher(stage("first"), stage("second"), max_batch=4)
        try:
            for _ in range(5):  # waves of concurrent requests, with idle time between them
                await asyncio.gather(*(b.submit(i) for i in range(20)))
                await asyncio.sleep(0.01)
        finally:
            b.close()

    _run(main())
    assert len(threads["first"]) == len(threads["second"]) == 1
    assert threads["first"] != threads["second"]
