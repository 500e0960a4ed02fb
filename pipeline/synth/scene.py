"""One clip's scene: its background and tracks, rendered frame by frame with each object's visibility.

`Scene(cfg, index).render(i)` draws frame i and returns the picture with one `Observation` per object
on screen. Objects are drawn in depth order twice: in colour onto the frame and as their number onto an
id map, so after drawing, the pixels each object still owns are its unoccluded, in-frame part.
`render(i, without={track})` draws the same frame with some objects left out (used to test labels).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw
from unitscope.pipeline.synth import shapes
from unitscope.pipeline.synth.background import Background
from unitscope.pipeline.synth.config import SynthConfig
from unitscope.pipeline.synth.labels import visible_fraction
from unitscope.pipeline.synth.tracks import Planner, Track


@dataclass(frozen=True)
class Observation:
    """An object in one frame: which track, its box clipped to the frame, nominal height, and (concepts
    only) the pixels of its whole figure and the visible fraction of them."""

    track: int
    kind: str
    concept: bool
    box: tuple[int, int, int, int]
    size: float
    visible: float
    area: int = 0


def _area(prims: list[shapes.Prim], bounds: tuple[float, float, float, float]) -> int:
    """Pixels the object covers when drawn alone on an unbounded canvas (integer shift: same raster)."""
    x0, y0 = math.floor(bounds[0]) - 1, math.floor(bounds[1]) - 1
    w, h = math.ceil(bounds[2]) - x0 + 2, math.ceil(bounds[3]) - y0 + 2
    mask = Image.new("L", (w, h))
    shapes.draw(ImageDraw.Draw(mask), prims, {"fill": 1, "feature": 1, "accent": 1}, -x0, -y0)
    return int(np.count_nonzero(np.asarray(mask)))


class Scene:
    """The deterministic content of clip `index` of a corpus: same (seed, index), same frames."""

    def __init__(self, cfg: SynthConfig, index: int, tracks: list[Track] | None = None):
        """`tracks` replaces the planned ones (in drawing order), to stage a scene by hand."""
        self.cfg = cfg
        bg_seed, track_seed = np.random.SeedSequence([cfg.seed, index]).spawn(2)
        self.background = Background(
            np.random.default_rng(bg_seed), cfg.width, cfg.height, cfg.fps, cfg.frames, cfg.noise
        )
        self.tracks: list[Track] = tracks or Planner(np.random.default_rng(track_seed), cfg).plan()
        self._by_frame: list[list[int]] = [[] for _ in range(cfg.frames)]
        for k, t in enumerate(self.tracks):  # tracks are sorted by depth, so lists are in drawing order
            for i in range(t.start, t.end):
                self._by_frame[i].append(k)

    def render(self, i: int, without: frozenset[int] = frozenset()) -> tuple[np.ndarray, list[Observation]]:
        """Frame i as an (H, W, 3) uint8 array and the objects on screen in it."""
        cfg = self.cfg
        img = self.background.frame(i)
        ids = Image.new("L", (cfg.width, cfg.height))
        draw_rgb, draw_ids = ImageDraw.Draw(img), ImageDraw.Draw(ids)
        drawn: list[tuple[int, list[shapes.Prim], float]] = []
        for k in self._by_frame[i]:
            if k in without:
                continue
            track = self.tracks[k]
            x, y, size, angle = track.pose(i, cfg.fps)
            prims = shapes.pose(track.shape((i - track.start) / cfg.fps), x, y, size, angle)
            shapes.draw(draw_rgb, prims, track.params["colours"])
            n = len(drawn) + 1
            shapes.draw(draw_ids, prims, {"fill": n, "feature": n, "accent": n})
            drawn.append((k, prims, size))
        owned = np.bincount(np.asarray(ids).ravel(), minlength=len(drawn) + 1)
        observations = []
        for n, (k, prims, size) in enumerate(drawn, start=1):
            if not owned[n]:
                continue
            track = self.tracks[k]
            b = shapes.bounds(prims)
            box = (
                max(0, math.floor(b[0])),
                max(0, math.floor(b[1])),
                min(cfg.width, math.ceil(b[2])),
                min(cfg.height, math.ceil(b[3])),
            )
            area = _area(prims, b) if track.concept else 0
            vis = visible_fraction(int(owned[n]), area) if track.concept else 1.0
            observations.append(Observation(k, track.kind, track.concept, box, size, vis, area))
        return np.asarray(self.background.finish(img, i)), observations
