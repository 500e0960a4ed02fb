"""The shared bounded task loop on a real local Ray: never more than `limit` in flight, every item once,
errors handed back with their item, and an idle tick while nothing finishes."""

from __future__ import annotations

import time
from collections import deque

import pytest

from unitscope.core import task_loop

pytestmark = pytest.mark.slow  # a local Ray


def test_bounded_keeps_the_limit_and_hands_back_every_item(ray_local):
    ray = ray_local

    @ray.remote(num_cpus=0)
    class Gauge:
        def __init__(self):
            self.now, self.most = 0, 0

        def enter(self):
            self.now += 1
            self.most = max(self.most, self.now)

        def leave(self):
            self.now -= 1

        def peak(self):
            return self.most

    gauge = Gauge.remote()

    @ray.remote(num_cpus=0, max_retries=0)
    def work(i):
        ray.get(gauge.enter.remote())
        time.sleep(0.3 if i == 0 else 0.05)
        ray.get(gauge.leave.remote())
        if i == 3:
            raise ValueError("three")
        return i * i

    seen, idle, errors = [], 0, []
    for finished in task_loop.bounded(work.remote, range(8), limit=2, idle_s=0.1):
        if finished is None:
            idle += 1
            continue
        item, ref = finished
        try:
            seen.append((item, ray.get(ref)))
        except ray.exceptions.RayTaskError:
            errors.append(item)
    assert sorted(seen) == [(i, i * i) for i in range(8) if i != 3] and errors == [3]
    assert ray.get(gauge.peak.remote()) == 2 and idle >= 1


def test_streaming_tasks_hand_back_each_part_and_free_their_slot_when_done(ray_local):
    ray = ray_local

    @ray.remote(num_cpus=0, num_returns="streaming", max_retries=0)
    def parts(i):
        for j in range(3):
            yield (i, j)
        if i == 2:
            raise ValueError("two")

    got, errors = [], []
    for finished in task_loop.bounded(parts.remote, range(4), limit=2, streaming=True):
        item, ref = finished
        try:
            got.append(ray.get(ref))
        except ray.exceptions.RayTaskError:
            errors.append(item)
    # every part of every task, in order within a task; a task's error comes after its parts
    assert sorted(got) == [(i, j) for i in range(4) for j in range(3)] and errors == [2]
    assert [j for i, j in got if i == 1] == [0, 1, 2]


class _Driver:
    """Held work: holds one slot until `release()`, then hands `back` onto the queue (as a failed
    start-up shard does) before its slot frees."""

    def __init__(self, queue, back):
        self.queue, self.back, self.held = queue, back, 1

    @property
    def busy(self) -> int:
        return self.held

    def release(self):
        self.queue.appendleft(self.back)
        self.held = 0


def test_held_work_takes_a_slot_and_an_item_it_hands_back_still_runs(ray_local):
    ray = ray_local

    @ray.remote(num_cpus=0, max_retries=0)
    def square(i):
        time.sleep(0.05)
        return i * i

    queue = deque([1, 2, 3])
    driver = _Driver(queue, 9)
    submitted, done, ticks = [], [], 0
    for finished in task_loop.bounded(
        lambda i: submitted.append(i) or square.remote(i), queue, limit=2, idle_s=5, held=driver
    ):
        if finished is None:
            ticks += 1
            if ticks == 5:  # the driver's piece of work ends a little after the tasks started
                driver.release()
            continue
        done.append(ray.get(finished[1]))
    # the loop polled often (not every idle_s) while the driver was busy, did not end while it held a
    # slot with the queue dry, and ran the item handed back
    assert sorted(done) == [1, 4, 9, 81] and submitted[-1] == 9 and ticks >= 5


def _recording(remote):
    refs = []

    def submit(i):
        refs.append(remote(i))
        return refs[-1]

    return submit, refs


def _cancelled(ray, ref) -> bool:
    try:
        ray.get(ref, timeout=20)
    except (ray.exceptions.TaskCancelledError, ray.exceptions.WorkerCrashedError):
        return True
    return False


def test_closing_the_loop_early_cancels_the_running_tasks(ray_local):
    ray = ray_local

    @ray.remote(num_cpus=0, max_retries=0)
    def nap(i):
        time.sleep(0 if i == 0 else 60)
        return i

    submit, refs = _recording(nap.remote)
    loop = task_loop.bounded(submit, range(5), limit=3)
    item, ref = next(loop)
    assert item == 0 and ray.get(ref) == 0
    loop.close()  # the caller stops reading: the two still sleeping are cancelled, none more submitted
    assert len(refs) == 3 and all(_cancelled(ray, r) for r in refs[1:])


def test_an_exception_in_the_caller_cancels_the_running_streams(ray_local):
    ray = ray_local

    @ray.remote(num_cpus=0, num_returns="streaming", max_retries=0)
    def drip(i):
        yield i
        time.sleep(60)
        yield -i

    submit, refs = _recording(drip.remote)
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C while the driver reads the first part
        for _ in task_loop.bounded(submit, range(2), limit=2, streaming=True):
            raise KeyboardInterrupt
    parts = [list(gen) for gen in refs]  # what each stream held when it was cancelled
    assert all(_cancelled(ray, p[-1]) for p in parts if p) and len(refs) == 2
