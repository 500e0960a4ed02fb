"""Motion-centred crops for temporal pairs: both views of a pair are cut around what moved between its
two frames, not at random places.

In video the objects move and the background mostly pans with the camera, so after removing the camera's
shift (phase correlation of the two frames) the remaining difference marks the objects. A crop centred
there puts the same object in both views of a positive, and makes the same-video negatives (other moments
of the same background) differ in which object they show; a random crop of a cluttered frame mostly
matches background to background. The stream then shuffles each such view's colour channels: the
objects' colours are random, and matching them would otherwise be the easy way to tell the positive. On
the planted-concept corpus (tests/bench/train_quality.py, 1000 steps, linear probe's held-out AUC minus
random weights', per concept) random crops give -0.07..+0.05, motion crops -0.03..+0.09, motion crops with
shuffled channels +0.04..+0.12. What moved is an object, not necessarily a concept: on that corpus, whose
distractors move like the concepts, 45% of the boxes are centred on a concept against 41% for a random
box of the same size (tests/bench/motion_crops.py). numpy + PIL only (runs in the DataLoader workers);
the motion maps of a batch's pairs are computed together, as arrays, and the single-pair functions wrap
the batched ones.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image
from unitscope.train import augment

SIDE = 32  # frames are compared at this resolution
CELLS = 8  # the motion map is CELLS x CELLS
SHARPEN = 2.0  # crop centres are drawn with probability ~ cell energy ** SHARPEN
MIN_CONTRAST = 1.5  # a map whose peak is below this x its median shows no distinct moving thing
SCALE = (0.1, 0.5)  # the cut-out's area as a fraction of the frame's: about the object's size
JITTER = 0.15  # each view's centre moves by up to this fraction of the crop side
VIEW_SCALE_MIN = 0.7  # each view then takes a random crop of at least this much of the cut-out's area
SLACK = 1  # pixels (at SIDE) of residual misalignment forgiven: zoom, sub-pixel pans
SMALLEST = SCALE[0] * VIEW_SCALE_MIN  # the smallest part of a frame a view shows


_WINDOW = np.outer(np.hanning(SIDE), np.hanning(SIDE)).astype(np.float32)
_POOL = np.kron(np.eye(CELLS), np.full((SIDE // CELLS, 1), CELLS / SIDE)).astype(np.float32)  # (SIDE, CELLS)


def standardised(ims: Sequence[Image.Image]) -> np.ndarray:
    """(N, 3, SIDE, SIDE) float32: each frame shrunk to SIDE x SIDE (box-filtered by an integer factor
    first, which is cheap and anti-aliased), each channel at zero mean and unit variance (lighting changes
    cancel)."""
    small = []
    for im in ims:
        if im.mode != "RGB":
            im = im.convert("RGB")
        if (factor := min(im.size) // SIDE) > 1:
            im = im.reduce(factor)
        if im.size != (SIDE, SIDE):
            im = im.resize((SIDE, SIDE), Image.BILINEAR)
        small.append(np.asarray(im))
    # one row per channel: numpy reduces 2-D rows ~25x faster than the last axis of the 3-D (N, 3, pixels)
    x = np.stack(small).transpose(0, 3, 1, 2).reshape(len(small) * 3, -1).astype(np.float32)
    x -= x.mean(axis=1, keepdims=True)
    x /= np.sqrt((x * x).mean(axis=1, keepdims=True)) + 1e-3
    return x.reshape(len(small), 3, SIDE, SIDE)


def camera_shifts(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 2) integer (dy, dx) that best align each b onto its a (b rolled by it matches a), by phase
    correlation of the standardised frames a and b."""
    fa = np.fft.rfft2(a.mean(axis=1) * _WINDOW)
    fb = np.fft.rfft2(b.mean(axis=1) * _WINDOW)
    cross = fa * np.conj(fb)
    corr = np.fft.irfft2(cross / (np.abs(cross) + 1e-6), s=(SIDE, SIDE))
    dy, dx = np.divmod(corr.reshape(len(corr), -1).argmax(axis=1), SIDE)
    half = SIDE // 2
    return np.stack([np.where(dy > half, dy - SIDE, dy), np.where(dx > half, dx - SIDE, dx)], axis=1)


def motion_maps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, CELLS, CELLS) energy of what changed from each standardised frame a to its b once the camera's
    shift is removed, in a's coordinates: per pixel the smallest difference to b's pixels within SLACK of
    the shift, so texture that moved by a pixel does not count; pixels that the shift leaves without a
    counterpart in b count 0."""
    n = len(a)
    dy, dx = camera_shifts(a, b).T
    around = np.arange(-SLACK, SIDE + SLACK)
    rows, cols = (around - dy[:, None]) % SIDE, (around - dx[:, None]) % SIDE
    # b rolled by (dy, dx) with SLACK more pixels on every side: rolled[i, j] = padded[SLACK + i, SLACK + j]
    padded = b[np.arange(n)[:, None, None, None], np.arange(3)[:, None, None], rows[:, None, :, None],
               cols[:, None, None, :]]  # fmt: skip
    diff = np.full((n, SIDE, SIDE), np.inf, np.float32)
    for ey in range(2 * SLACK + 1):
        for ex in range(2 * SLACK + 1):
            np.minimum(diff, np.abs(a - padded[:, :, ey : ey + SIDE, ex : ex + SIDE]).sum(axis=1), out=diff)
    i = np.arange(SIDE)
    inside_y = (i >= np.maximum(dy, 0)[:, None] + SLACK) & (i < SIDE + np.minimum(dy, 0)[:, None] - SLACK)
    inside_x = (i >= np.maximum(dx, 0)[:, None] + SLACK) & (i < SIDE + np.minimum(dx, 0)[:, None] - SLACK)
    diff *= inside_y[:, :, None] & inside_x[:, None, :]
    return _POOL.T @ diff @ _POOL  # the mean of each cell


def centres(energy: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(N, 2) crop centres (x, y) in [0, 1], each drawn where its (CELLS, CELLS) energy map is, NaN where
    nothing distinct moved (the peak is not MIN_CONTRAST x the median). Three uniforms per map, drawn in
    one call, so N maps give the centres of N single calls with the same generator."""
    n, cells = len(energy), energy.shape[-1]
    flat = energy.reshape(n, -1)
    u = rng.random((n, 3))
    med = np.median(flat, axis=1, keepdims=True)
    peak = flat.max(axis=1)
    cdf = np.cumsum(np.clip(flat - med, 0, None) ** SHARPEN, axis=1)
    cell = np.minimum((cdf <= u[:, :1] * cdf[:, -1:]).sum(axis=1), flat.shape[1] - 1)
    cy, cx = np.divmod(cell, cells)
    at = np.stack([(cx + u[:, 1]) / cells, (cy + u[:, 2]) / cells], axis=1)
    distinct = (peak > MIN_CONTRAST * med[:, 0]) & (peak > 0)
    return np.where(distinct[:, None], at, np.nan)


Box = tuple[float, float, float, float]  # (x0, y0, x1, y1) in pixels


def _box(im: Image.Image, cx: float, cy: float, side: float) -> Box:
    """A side x side box centred at (cx, cy) (fractions of the frame), moved to lie inside the frame."""
    w, h = im.size
    side = min(side, w, h)
    x0 = min(max(cx * w - side / 2, 0.0), w - side)
    y0 = min(max(cy * h - side / 2, 0.0), h - side)
    return x0, y0, x0 + side, y0 + side


def batch_boxes(pairs: Sequence[Sequence[Image.Image]], rng: np.random.Generator) -> list[list[Box] | None]:
    """For each pair, the boxes of its two frames around what moved between them (one random area in SCALE of
    the frame's per pair, each view's centre jittered), or None for a pair that shows no distinct motion (a
    self-pair, a still shot; the caller falls back to random crops) or is not two frames of one size. The
    motion maps of all pairs are computed together, as arrays."""
    out: list[list[Box] | None] = [None] * len(pairs)
    live = [i for i, ims in enumerate(pairs) if len(ims) == 2 and ims[0].size == ims[1].size]
    if not live:
        return out
    x = standardised([im for i in live for im in pairs[i]])
    for i, (cx, cy) in zip(live, centres(motion_maps(x[0::2], x[1::2]), rng).tolist(), strict=True):
        if math.isnan(cx):
            continue
        w, h = pairs[i][0].size
        side = math.sqrt(rng.uniform(*SCALE)) * min(w, h)
        boxes = []
        for im in pairs[i]:
            jx, jy = rng.uniform(-JITTER, JITTER, 2) * side
            boxes.append(_box(im, cx + jx / w, cy + jy / h, side))
        out[i] = boxes
    return out


def batch_views(
    pairs: Sequence[Sequence[Image.Image]], size: int, rng: np.random.Generator
) -> list[list[np.ndarray] | None]:
    """Each pair's two views (uint8 (size, size, 3), the geometry of augment.view, at least VIEW_SCALE_MIN of
    the box) cut around its motion, or None where `batch_boxes` gives None (the caller makes ordinary random
    crops). The caller colours them with shuffled channels (`augment.colour(..., shuffle=)`)."""
    return [
        None
        if boxes is None
        else [augment.view(im, size, VIEW_SCALE_MIN, rng, box) for im, box in zip(ims, boxes, strict=True)]
        for ims, boxes in zip(pairs, batch_boxes(pairs, rng), strict=True)
    ]


# Single-pair forms of the batched functions above.


def camera_shift(a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    """`camera_shifts` of one pair of standardised (3, SIDE, SIDE) frames."""
    dy, dx = camera_shifts(a[None], b[None])[0].tolist()
    return dy, dx


def motion_map(a: Image.Image, b: Image.Image) -> np.ndarray:
    """`motion_maps` of the frames a and b: (CELLS, CELLS)."""
    x = standardised([a, b])
    return motion_maps(x[:1], x[1:])[0]


def centre(energy: np.ndarray, rng: np.random.Generator) -> tuple[float, float] | None:
    """`centres` of one (CELLS, CELLS) map: (x, y), or None when nothing distinct moved."""
    cx, cy = centres(energy[None], rng)[0].tolist()
    return None if math.isnan(cx) else (cx, cy)


def centred_boxes(ims: Sequence[Image.Image], rng: np.random.Generator) -> list[Box] | None:
    """`batch_boxes` of one pair."""
    return batch_boxes([ims], rng)[0]


def views(ims: Sequence[Image.Image], size: int, rng: np.random.Generator) -> list[np.ndarray] | None:
    """`batch_views` of one pair."""
    return batch_views([ims], size, rng)[0]
