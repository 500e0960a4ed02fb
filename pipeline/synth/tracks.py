"""Per-clip object tracks: when each concept and distractor is on screen, its path (entering, crossing,
leaving), scale, rotation and depth order.

Concept timing is planned per clip: each concept is on screen for `presence` of the clip, in 1-3
segments at random times, so frequencies hold on short clips too. Concept scales follow a per-clip
low-discrepancy sequence over the log of the documented height range, so a few clips span it.
Positions favour the centre square of the frame (what ingest's centre crop keeps).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from unitscope.pipeline.synth.concepts import CONCEPT_KINDS
from unitscope.pipeline.synth.config import RANGES, SynthConfig
from unitscope.pipeline.synth.distractors import DISTRACTOR_KINDS

GOLDEN = (np.sqrt(5) - 1) / 2


@dataclass
class Track:
    """One object on screen from frame `start` to `end` (exclusive)."""

    kind: str
    concept: bool
    start: int
    end: int
    path: np.ndarray  # (3, 2): entry, middle and exit points in frame pixels
    turn: float  # fraction of the track at which it passes the middle point
    sizes: tuple[float, float]  # nominal height in pixels at start and end
    angle: float  # degrees at start
    spin: float  # degrees per second
    z: float  # drawing order: higher is in front
    params: dict
    figure: Callable
    animated: bool = False  # whether the figure changes with time (else it is built once)
    _still: list | None = None

    def shape(self, t: float) -> list:
        """The figure's primitives in unit space at `t` seconds into the track."""
        if self.animated:
            return self.figure(self.params, t)
        if self._still is None:
            self._still = self.figure(self.params, 0.0)
        return self._still

    def pose(self, i: int, fps: float) -> tuple[float, float, float, float]:
        """(x, y, size, angle) at frame `i` (which must lie in [start, end))."""
        u = (i - self.start) / max(1, self.end - self.start - 1)
        if u < self.turn:
            a, b, v = self.path[0], self.path[1], u / self.turn
        else:
            a, b, v = self.path[1], self.path[2], (u - self.turn) / (1 - self.turn)
        v = v * v * (3 - 2 * v)
        x, y = a + (b - a) * v
        t = (i - self.start) / fps
        return (
            float(x),
            float(y),
            self.sizes[0] + (self.sizes[1] - self.sizes[0]) * u,
            self.angle + self.spin * t,
        )


def _segments(rng: np.random.Generator, n: int, on: int, count: int) -> list[tuple[int, int]]:
    """`count` disjoint [start, end) segments of total length `on` at random places in [0, n)."""
    lengths = np.maximum(1, np.round(rng.dirichlet([3.0] * count) * on)).astype(int)
    gaps = np.floor(rng.dirichlet([1.0] * (count + 1)) * max(0, n - lengths.sum())).astype(int)
    out, pos = [], 0
    for ln, gap in zip(lengths, gaps[:-1], strict=True):
        pos += gap
        out.append((pos, min(n, pos + ln)))
        pos += ln
    return [(a, b) for a, b in out if b > a]


class Planner:
    """Draws the tracks of one clip from its random generator."""

    def __init__(self, rng: np.random.Generator, cfg: SynthConfig):
        self.rng, self.cfg = rng, cfg
        self.w, self.h = cfg.width, cfg.height
        lo, hi = RANGES["concept_height_fraction"]
        self.lo, self.hi = lo * self.h, hi * self.h
        self.u0 = rng.random()

    def _size(self, k: int | None) -> float:
        u = (self.u0 + k * GOLDEN) % 1.0 if k is not None else self.rng.random()
        return float(self.lo * (self.hi / self.lo) ** u)

    def _inside(self, size: float) -> np.ndarray:
        rng, w, h = self.rng, self.w, self.h
        if rng.random() < 0.8:
            half = max(0.0, h / 2 - size * 0.35)
            x = w / 2 + rng.uniform(-half, half)
        else:
            x = rng.uniform(0, w)
        return np.array([x, rng.uniform(0.2 * h, 0.8 * h)])

    def _edge(self, size: float) -> np.ndarray:
        rng, w, h = self.rng, self.w, self.h
        off = size * 0.6
        if rng.random() < 0.6:
            x = w / 2 + rng.uniform(-h / 2, h / 2)
            return np.array([x, -off if rng.random() < 0.5 else h + off])
        return np.array([-off if rng.random() < 0.5 else w + off, rng.uniform(0.2 * h, 0.8 * h)])

    def track(self, kind: str, concept: bool, span: tuple[int, int], size: float) -> Track:
        rng = self.rng
        if concept:
            c = CONCEPT_KINDS[kind]
            params_fn, figure, rot, spin, animated = c.params, c.figure, c.rotation, c.spin, c.animated
        else:
            params_fn, figure, rot, spin = DISTRACTOR_KINDS[kind]
            animated = False
        s1 = float(np.clip(size * rng.uniform(0.8, 1.25), self.lo, self.hi)) if concept else size
        ends = [self._edge(size) if rng.random() < 0.5 else self._inside(size) for _ in range(2)]
        z = rng.uniform(0.6, 1.0) if kind == "blob" else rng.random()
        return Track(
            kind=kind,
            concept=concept,
            start=span[0],
            end=span[1],
            path=np.stack([ends[0], self._inside(size), ends[1]]),
            turn=rng.uniform(0.3, 0.7),
            sizes=(size, s1),
            angle=rng.uniform(-rot, rot),
            spin=rng.uniform(-spin, spin),
            z=z,
            params=params_fn(rng),
            figure=figure,
            animated=animated,
        )

    def plan(self) -> list[Track]:
        cfg, rng, n = self.cfg, self.rng, self.cfg.frames
        tracks, k = [], 0
        for name in cfg.concepts:
            on = round(cfg.presence * n)
            count = int(np.clip(round(on / (cfg.fps * rng.uniform(1.5, 3.0))), 1, 3))
            for span in _segments(rng, n, on, count):
                tracks.append(self.track(name, True, span, self._size(k)))
                k += 1
        kinds = list(DISTRACTOR_KINDS)
        for _ in range(cfg.distractor_slots):
            pos = int(rng.integers(0, max(1, int(cfg.fps))))
            while pos < n:
                length = int(cfg.fps * rng.uniform(1.0, 3.0))
                kind = kinds[int(rng.integers(len(kinds)))]
                tracks.append(self.track(kind, False, (pos, min(n, pos + length)), self._size(None)))
                pos += length + int(cfg.fps * rng.uniform(0.1, 0.8))
        tracks.sort(key=lambda t: t.z)
        return tracks
