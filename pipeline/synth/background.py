"""Cluttered moving backgrounds: a large textured canvas per clip seen through a panning, zooming camera,
under changing light, with sensor noise.

The canvas (gradient, 100-200 random shapes and lines, multi-scale texture and grain) is built once per
clip at 1.4x the frame's pixel density; each frame is a nearest-neighbour resample of a moving box of it
(PIL, ~0.2 ms), so camera motion costs nothing per pixel in Python.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageChops, ImageDraw
from unitscope.pipeline.synth.shapes import random_colour

DENSITY = 1.4  # canvas pixels per frame pixel at the widest zoom
ZOOM = (1.0, 1.4)  # camera zoom range
MARGIN = 1.35  # canvas size / widest view: room to pan
NOISE_FRAMES = 8


def _smooth(rng: np.random.Generator, w: int, h: int, cell: int) -> np.ndarray:
    """Smooth random field in [-1, 1] of size (h, w) with features about `cell` pixels across."""
    small = rng.standard_normal((max(2, h // cell), max(2, w // cell))).astype(np.float32)
    img = Image.fromarray(small, mode="F").resize((w, h), Image.BICUBIC)
    a = np.asarray(img)
    return a / (np.abs(a).max() + 1e-6)


def _canvas(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, 2 * np.pi)
    g = (xx * np.cos(ang) + yy * np.sin(ang)) / (w + h)
    g = ((g - g.min()) / (np.ptp(g) + 1e-6))[..., None]
    c0, c1 = np.array(random_colour(rng), np.float32), np.array(random_colour(rng), np.float32)
    img = Image.fromarray((c0 * (1 - g) + c1 * g).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(100, 200))):
        col = tuple(int(v * rng.uniform(0.45, 1.0)) for v in random_colour(rng))
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        s = float(np.exp(rng.uniform(np.log(5), np.log(min(w, h) * 0.3))))
        kind = rng.integers(5)
        if kind == 0:
            draw.rectangle((x, y, x + s * rng.uniform(0.3, 1.5), y + s * rng.uniform(0.3, 1.5)), fill=col)
        elif kind == 1:
            draw.ellipse((x, y, x + s, y + s * rng.uniform(0.3, 1.0)), fill=col)
        elif kind == 2:
            n = int(rng.integers(3, 7))
            pts = np.stack([x + rng.uniform(-s, s, n), y + rng.uniform(-s, s, n)], 1)
            draw.polygon(pts.ravel().tolist(), fill=col)
        else:
            n = int(rng.integers(2, 5))
            pts = np.stack([x + rng.uniform(-2 * s, 2 * s, n), y + rng.uniform(-2 * s, 2 * s, n)], 1)
            draw.line(pts.ravel().tolist(), fill=col, width=int(rng.integers(1, 7)))
    # texture, colour blotches and grain over everything, so shapes look lit and worn, not flat
    tex = 0.25 * _smooth(rng, w, h, 160) + 0.15 * _smooth(rng, w, h, 40) + 0.1 * _smooth(rng, w, h, 6)
    tint = np.stack([_smooth(rng, w, h, 120) for _ in range(3)], -1) * 25
    grain = rng.normal(0, 6, (h, w, 1)).astype(np.float32)
    out = np.asarray(img, np.float32) * (1 + tex[..., None]) + tint + grain
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8), "RGB")


class _Lut(Image.ImagePointHandler):
    """A per-channel lookup table applied as is (`Image.point` with a plain list re-rounds all 768
    entries in Python on every call, which costs more than the lookup itself)."""

    def __init__(self, table: list[int]):
        self.table = table

    def point(self, im: Image.Image) -> Image.Image:
        return im._new(im.im.point(self.table, None))


def _wave(rng: np.random.Generator, t: np.ndarray, lo: float, hi: float, parts: int = 3) -> np.ndarray:
    """A smooth random signal in [-1, 1] over times `t` (sum of sines with frequencies in [lo, hi] Hz)."""
    f, ph, amp = rng.uniform(lo, hi, parts), rng.uniform(0, 2 * np.pi, parts), rng.uniform(0.3, 1, parts)
    s = (amp[:, None] * np.sin(2 * np.pi * f[:, None] * t[None] + ph[:, None])).sum(0)
    return s / amp.sum()


class Background:
    """The background of one clip: `frame(i)` is frame i's image before objects, `finish(img, i)` applies
    that frame's lighting and noise after objects are drawn."""

    def __init__(
        self, rng: np.random.Generator, width: int, height: int, fps: float, frames: int, noise: float
    ):
        self.width, self.height = width, height
        cw, ch = int(width * DENSITY * MARGIN), int(height * DENSITY * MARGIN)
        self.canvas = _canvas(rng, cw, ch)
        t = np.arange(frames) / fps
        self.zoom = ZOOM[0] + (ZOOM[1] - ZOOM[0]) * (0.5 + 0.5 * _wave(rng, t, 0.02, 0.12))
        vw, vh = width * DENSITY / self.zoom, height * DENSITY / self.zoom
        self.cx = cw / 2 + (cw - vw) / 2 * _wave(rng, t, 0.03, 0.2)
        self.cy = ch / 2 + (ch - vh) / 2 * _wave(rng, t, 0.03, 0.2)
        self.vw, self.vh = vw, vh
        gain = 1 + 0.22 * _wave(rng, t, 0.05, 0.4)
        tint = 1 + 0.07 * np.stack([_wave(rng, t, 0.03, 0.2) for _ in range(3)], 1)
        bias = 12 * _wave(rng, t, 0.05, 0.3)
        self.light = (gain[:, None] * tint, bias)
        # sensor noise of +-`noise` grey levels: a few precomputed frames, cycled over the clip
        self._amp = round(noise)
        self.noise = [
            Image.fromarray(rng.integers(0, 2 * self._amp + 1, (height, width, 3), dtype=np.uint8))
            for _ in range(NOISE_FRAMES if self._amp else 0)
        ]

    def frame(self, i: int) -> Image.Image:
        cx, cy, vw, vh = self.cx[i], self.cy[i], self.vw[i], self.vh[i]
        box = (cx - vw / 2, cy - vh / 2, cx + vw / 2, cy + vh / 2)
        return self.canvas.resize((self.width, self.height), Image.NEAREST, box=box)

    def finish(self, img: Image.Image, i: int) -> Image.Image:
        scale, bias = self.light[0][i], self.light[1][i]
        v = np.arange(256, dtype=np.float32)
        lut = np.clip(v[None] * scale[:, None] + bias, 0, 255).astype(np.uint8).ravel().tolist()
        img = img.point(_Lut(lut))
        if self.noise:
            img = ImageChops.add(img, self.noise[i % len(self.noise)], 1.0, -self._amp)
        return img
