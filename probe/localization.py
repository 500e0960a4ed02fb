"""Localization scores of unit maps against a concept's boxes: the pointing game and NetDissect's IoU.

- pointing game: the share of frames whose map maximum (a pixel centre) falls inside a box of the concept;
- IoU: the map thresholded at the unit's top-0.5% activation quantile (over every pixel of the sampled
  frames' maps), against the union of the concept's boxes, summed over frames (intersection over union
  of the totals, as NetDissect scores a unit over a data set).

The centre prior, a Gaussian at the frame centre the same on every frame, is scored the same way: a unit
that merely likes the middle of the picture scores no better than it.
"""

from __future__ import annotations

import math

import numpy as np

TOP_QUANTILE = 0.995  # NetDissect's threshold: the top 0.5% of a unit's activations
CENTRE_SIGMA = 0.25  # the centre prior's standard deviation, a fraction of the frame side


def box_mask(boxes: list[list[float]], h: int, w: int) -> np.ndarray:
    """(H, W) bool: pixels whose centre lies inside any of `boxes` ([x0, y0, x1, y1] in frame pixels)."""
    ys, xs = np.arange(h)[:, None] + 0.5, np.arange(w)[None, :] + 0.5
    mask = np.zeros((h, w), bool)
    for x0, y0, x1, y1 in boxes:
        mask |= (xs >= x0) & (xs < x1) & (ys >= y0) & (ys < y1)
    return mask


def points_inside(m: np.ndarray, boxes: list[list[float]]) -> bool:
    """Whether the maximum of map `m` (H, W) lies inside one of `boxes` (the first maximum, row-major)."""
    y, x = np.unravel_index(int(np.argmax(m)), m.shape)
    return any(x0 <= x + 0.5 < x1 and y0 <= y + 0.5 < y1 for x0, y0, x1, y1 in boxes)


def top_threshold(maps: np.ndarray, q: float = TOP_QUANTILE) -> float:
    """The `q` quantile of every pixel of `maps` (frames, H, W): the unit's activation threshold."""
    return float(np.quantile(maps.astype(np.float64).ravel(), q))


def iou(maps: np.ndarray, masks: np.ndarray, threshold: float) -> float:
    """sum over frames of |map > threshold AND box| / sum of |map > threshold OR box|; NaN when both are
    empty on every frame."""
    on = maps > threshold
    union = int((on | masks).sum())
    return int((on & masks).sum()) / union if union else math.nan


def centre_prior(h: int, w: int, sigma: float = CENTRE_SIGMA) -> np.ndarray:
    """(H, W) Gaussian at the frame centre, `sigma` a fraction of the side."""
    ys = (np.arange(h) + 0.5 - h / 2) / (sigma * h)
    xs = (np.arange(w) + 0.5 - w / 2) / (sigma * w)
    return np.exp(-0.5 * (ys[:, None] ** 2 + xs[None, :] ** 2)).astype(np.float32)


def scores(maps: np.ndarray, boxes: list[list[list[float]]], positive: np.ndarray) -> dict[str, float]:
    """Pointing game and IoU of one unit: `maps` (frames, H, W) over a sample of frames that sets the
    threshold; `boxes[i]` the concept's boxes on frame i; only frames with `positive[i]` (and a box)
    are scored."""
    scored = [i for i in np.flatnonzero(positive) if boxes[i]]
    if not scored:
        return {"pointing": math.nan, "iou": math.nan, "frames": 0}
    t = top_threshold(maps)
    h, w = maps.shape[1:]
    masks = np.stack([box_mask(boxes[i], h, w) for i in scored])
    hits = [points_inside(maps[i], boxes[i]) for i in scored]
    return {"pointing": float(np.mean(hits)), "iou": iou(maps[scored], masks, t), "frames": len(scored)}


def centre_scores(n: int, h: int, w: int, boxes, positive) -> dict[str, float]:
    """`scores` of the centre prior over the same `n` frames."""
    prior = np.broadcast_to(centre_prior(h, w), (n, h, w))
    return scores(prior, boxes, positive)
