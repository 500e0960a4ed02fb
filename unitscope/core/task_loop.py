"""Ray tasks over a list with at most a given number in flight: the one loop the stages share.

Submitting everything at once would queue every task's arguments in Ray's object store and lose the
order in which work is handed out; this keeps `limit` running and hands out the next as one finishes.
Leaving the loop early (an exception, Ctrl-C, the generator closed) cancels the tasks still running."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
HELD_POLL_S = 0.05  # while the driver's own work runs, look this often: each piece that ends frees a slot


class Held(Protocol):
    """Work the driver runs itself beside the tasks (e.g. shards it builds while Ray starts)."""

    @property
    def busy(self) -> int:
        """Slots (CPUs) that work still holds."""
        ...


def bounded(
    submit: Callable[[T], Any],
    items: Iterable[T],
    limit: int,
    idle_s: float | None = None,
    *,
    streaming: bool = False,
    held: Held | None = None,
) -> Iterator[tuple[T, Any] | None]:
    """Submit `submit(item)` for each item, at most `limit` in flight; yield (item, finished ObjectRef) as
    each task ends (ray.get it to get its result or its error), and None each time `idle_s` seconds pass
    with none ending (for a progress line).

    `streaming`: the tasks are Ray generator tasks (`num_returns="streaming"`); yield (item, ObjectRef)
    for each object a task yields, and the task leaves the loop when its stream ends.
    `held`: the driver's own work holds `held.busy` slots, so as many tasks fewer are submitted; the loop
    yields None every HELD_POLL_S while it runs (for the caller to collect its results) and ends only
    once it is done. A deque in `items` is drawn from its front each time a slot frees, so an item that
    held work hands back onto it (appendleft) still runs as a task."""
    import ray

    draw = _drawer(items)
    pending: dict[Any, T] = {}
    try:
        while True:
            busy = held.busy if held is not None else 0  # read before drawing: see _drawer
            while len(pending) < max(1, limit) - busy and (item := draw()) is not _DRY:
                pending[submit(item)] = item
            if not pending:
                if not busy:
                    return
                time.sleep(HELD_POLL_S)
                yield None
                continue
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=HELD_POLL_S if busy else idle_s)
            if not ready:
                yield None
            for ref in ready:
                if not streaming:
                    yield pending.pop(ref), ref
                elif (part := next(ref, None)) is None:  # the stream ended
                    del pending[ref]
                else:
                    yield pending[ref], part
    finally:
        if pending and ray.is_initialized():
            for ref in pending:
                ray.cancel(ref, force=True)


_DRY = object()


def _drawer(items: Iterable[T]) -> Callable[[], Any]:
    """The next item, or _DRY. A deque may run dry and fill again (held work hands an item back before
    its slot frees, which is why `bounded` reads `held.busy` before it draws); an iterator is done once dry."""
    if isinstance(items, deque):
        return lambda: items.popleft() if items else _DRY
    it = iter(items)
    return lambda: next(it, _DRY)
