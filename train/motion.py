"""Motion-centred crops for temporal pairs: both views of a pair are cut around what moved between its
two frames, not at random places.

In video the objects move and the background mostly pans with the camera, so after removing the camera's
shift (phase correlation of the two frames) the remaining difference marks the objects. A crop centred
there puts the same object in both views of a positive, and makes the same-video negatives (other moments
of the same background) differ in which object they show; a random crop of a cluttered frame mostly
matches background to background. Each view's colour channels are then shuffled: the objects' colours
are random, and matching them would otherwise be the easy way to tell the positive. On the planted-concept
corpus (tests/bench/train_quality.py, 1000 steps, linear probe's held-out AUC minus random weights', per
concept) random crops give -0.07..+0.05, motion crops -0.03..+0.09, motion crops with shuffled channels
+0.04..+0.12. numpy + PIL only (runs in the DataLoader workers).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from train import augment

SIDE = 32  # frames are compared at this resolution
CELLS = 8  # the motion map is CELLS x CELLS
SHARPEN = 2.0  # crop centres are drawn with probability ~ cell energy ** SHARPEN
MIN_CONTRAST = 1.5  # a map whose peak is below this x its median shows no distinct moving thing
SCALE = (0.1, 0.5)  # the cut-out's area as a fraction of the frame's: about the object's size
JITTER = 0.15  # each view's centre moves by up to this fraction of the crop side
VIEW_SCALE_MIN = 0.7  # each view then takes a random crop of at least this much of the cut-out's area
SLACK = 1  # pixels (at SIDE) of residual misalignment forgiven: zoom, sub-pixel pans
SMALLEST = SCALE[0] * VIEW_SCALE_MIN  # the smallest part of a frame a view shows


def _standardised(im: Image.Image) -> np.ndarray:
    """(SIDE, SIDE, 3) float32, each channel at zero mean and unit variance (lighting changes cancel)."""
    x = np.asarray(im.convert("RGB").resize((SIDE, SIDE), Image.BILINEAR), dtype=np.float32)
    return (x - x.mean(axis=(0, 1))) / (x.std(axis=(0, 1)) + 1e-3)


def camera_shift(a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    """The integer (dy, dx) that best aligns b onto a (b rolled by it matches a), by phase correlation."""
    win = np.outer(np.hanning(a.shape[0]), np.hanning(a.shape[1]))
    fa, fb = np.fft.rfft2(a.mean(axis=2) * win), np.fft.rfft2(b.mean(axis=2) * win)
    cross = fa * np.conj(fb)
    corr = np.fft.irfft2(cross / (np.abs(cross) + 1e-6), s=a.shape[:2])
    dy, dx = np.unravel_index(int(np.argmax(corr)), corr.shape)
    h, w = corr.shape
    return (dy - h if dy > h // 2 else dy), (dx - w if dx > w // 2 else dx)


def motion_map(a: Image.Image, b: Image.Image) -> np.ndarray:
    """(CELLS, CELLS) energy of what changed between frames a and b once the camera's shift is removed, in
    a's coordinates: per pixel the smallest difference to b's pixels within SLACK of the shift, so texture
    that moved by a pixel does not count; cells that the shift leaves without a counterpart in b are 0."""
    x, y = _standardised(a), _standardised(b)
    dy, dx = camera_shift(x, y)
    near = range(-SLACK, SLACK + 1)
    diff = np.min([np.abs(x - np.roll(y, (dy + ey, dx + ex), axis=(0, 1))).sum(axis=2) for ey in near for ex in near],
                  axis=0)  # fmt: skip
    valid = np.zeros_like(diff, dtype=bool)
    valid[max(dy, 0) + SLACK : SIDE + min(dy, 0) - SLACK, max(dx, 0) + SLACK : SIDE + min(dx, 0) - SLACK] = (
        True
    )
    diff = np.where(valid, diff, 0.0)
    k = SIDE // CELLS
    return diff.reshape(CELLS, k, CELLS, k).mean(axis=(1, 3))


def centre(energy: np.ndarray, rng: np.random.Generator) -> tuple[float, float] | None:
    """A crop centre (x, y) in [0, 1] drawn where the energy is, or None when nothing distinct moved."""
    med = float(np.median(energy))
    if energy.max() <= MIN_CONTRAST * med or energy.max() <= 0:
        return None
    p = np.clip(energy - med, 0, None) ** SHARPEN
    cell = int(rng.choice(p.size, p=p.ravel() / p.sum()))
    cy, cx = divmod(cell, energy.shape[1])
    return (cx + rng.random()) / energy.shape[1], (cy + rng.random()) / energy.shape[0]


def _box(im: Image.Image, cx: float, cy: float, side: float) -> tuple[float, float, float, float]:
    """A side x side box centred at (cx, cy) (fractions of the frame), moved to lie inside the frame."""
    w, h = im.size
    side = min(side, w, h)
    x0 = min(max(cx * w - side / 2, 0.0), w - side)
    y0 = min(max(cy * h - side / 2, 0.0), h - side)
    return x0, y0, x0 + side, y0 + side


def centred_crops(ims: list[Image.Image], rng: np.random.Generator) -> list[Image.Image] | None:
    """The two frames of a pair cut around what moved between them (one random area in SCALE of the
    frame's for the pair, each view's centre jittered), or None when the pair shows no distinct motion (a
    self-pair, a still shot): the caller falls back to random crops."""
    if len(ims) != 2 or ims[0].size != ims[1].size:
        return None
    at = centre(motion_map(ims[0], ims[1]), rng)
    if at is None:
        return None
    w, h = ims[0].size
    side = math.sqrt(rng.uniform(*SCALE)) * min(w, h)
    out = []
    for im in ims:
        jx, jy = rng.uniform(-JITTER, JITTER, 2) * side
        out.append(im.crop(tuple(round(v) for v in _box(im, at[0] + jx / w, at[1] + jy / h, side))))
    return out


def views(ims: list[Image.Image], size: int, rng: np.random.Generator) -> list[np.ndarray] | None:
    """The two augmented views (uint8 (size, size, 3), as augment.view) of a pair cut around its motion, each
    with its colour channels in a random order, or None (no distinct motion: the caller makes ordinary
    random crops)."""
    crops = centred_crops(ims, rng)
    if crops is None:
        return None
    out = [augment.view(c, size, VIEW_SCALE_MIN, True, rng) for c in crops]
    return [v[..., rng.permutation(3)] for v in out]
