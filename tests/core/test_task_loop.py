"""The shared bounded task loop on a real local Ray: never more than `limit` in flight, every item once,
errors handed back with their item, and an idle tick while nothing finishes."""

from __future__ import annotations

import time

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
