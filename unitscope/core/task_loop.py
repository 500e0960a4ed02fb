"""Ray tasks over a list with at most a given number in flight: the loop the stages share.

Submitting everything at once would queue every task's arguments in Ray's object store and lose the
order in which work is handed out; this keeps `limit` running and hands out the next as one finishes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def bounded(
    submit: Callable[[T], Any], items: Iterable[T], limit: int, idle_s: float | None = None
) -> Iterator[tuple[T, Any] | None]:
    """Submit `submit(item)` for each item, at most `limit` in flight; yield (item, finished ObjectRef) as
    each task ends (ray.get it to get its result or its error), and None each time `idle_s` seconds pass
    with none ending (for a progress line)."""
    import ray

    todo, pending = iter(items), {}
    more = True
    while more or pending:
        while more and len(pending) < max(1, limit):
            item = next(todo, todo)
            if item is todo:
                more = False
                break
            pending[submit(item)] = item
        if not pending:
            break
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=idle_s)
        if not ready:
            yield None
        for ref in ready:
            yield pending.pop(ref), ref
