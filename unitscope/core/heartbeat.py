"""A progress line at least every EVERY_S seconds from a long loop that has no progress of its own, so
no stage is silent for minutes (K-means patch extraction, the probe's activations and its scoring)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

EVERY_S = 10.0  # the longest a stage may stay silent, minus the time one loop step takes


class Heartbeat:
    """`tick(what)` prints `stage: what (N s)` to stderr when EVERY_S has passed since the last line
    (`what` may be a callable, so a line that is not printed costs nothing to make)."""

    def __init__(self, stage: str, every_s: float | None = None):
        self.stage = stage
        self.every_s = EVERY_S if every_s is None else every_s
        self.t0 = self.last = time.monotonic()

    def tick(self, what: str | Callable[[], str]) -> bool:
        now = time.monotonic()
        if now - self.last < self.every_s:
            return False
        self.last = now
        text = what() if callable(what) else what
        print(f"{self.stage}: {text} ({now - self.t0:.0f} s)", file=sys.stderr, flush=True)
        return True
