"""Retrying the states a Ray cluster passes through while it starts: nothing listens on the dashboard port
yet (connection refused), the dashboard answers 503, or its job agent has not registered ("No available
agent to submit job, please try again later"). Bounded exponential backoff with one progress line per try;
at the limit, one clear line. Anything else (a wrong token, a bad request) fails at once."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO, TypeVar

from unitscope.core.ray_runtime import ClusterError

T = TypeVar("T")
TRANSIENT = (
    "no available agent",
    "try again later",
    "connection refused",
    "status code 503",
    "service unavailable",
    "did not answer",
    "remote end closed connection",
    "connection reset",
)
LIMIT_S = 60.0  # a head node is up in ~10 s; its job agent registers within seconds more


def transient(exc: BaseException) -> bool:
    """Whether `exc` is a state of a cluster that is still starting (worth another try)."""
    text = f"{type(exc).__name__}: {exc}".lower()
    return isinstance(exc, ConnectionError | ClusterError | RuntimeError | OSError) and any(
        t in text for t in TRANSIENT
    )


def retrying(
    fn: Callable[[], T],
    what: str,
    limit_s: float = LIMIT_S,
    first_s: float = 0.5,
    most_s: float = 8.0,
    out: TextIO | None = None,
) -> T:
    """`fn()`, tried again after transient failures with delays of first_s, 2x, ... (at most most_s),
    until `limit_s` has passed; then ClusterError naming `what`, the last error and the time waited."""
    out = out or sys.stderr
    start, delay, tries = time.monotonic(), first_s, 0
    while True:
        try:
            return fn()
        except Exception as exc:
            if not transient(exc):
                raise
            tries += 1
            waited = time.monotonic() - start
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if waited + delay > limit_s:
                raise ClusterError(
                    f"{first} (still, after {tries} tries in {waited:.0f}s; --wait-for-cluster {limit_s:g})"
                ) from exc
            print(f"{what}: cluster not ready ({first[:120]}); try {tries + 1} in {delay:.1f}s", file=out)
            time.sleep(delay)
            delay = min(delay * 2, most_s)
