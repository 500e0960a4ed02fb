"""Invariance curves: a unit's response while its best frames are shifted, zoomed and rotated in steps.

Each curve is the mean response over the k frames (with the band between their 25th and 75th
percentiles) at each step, against a reference line: the unit's response to frames without its concept
(95th percentile). The invariance range of a transform is the span of steps around the identity over
which the mean stays above that line (Le et al. 2012, fig. 4); None when even the untouched frames are
not above it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from unitscope.probe.dissect.response import UnitFn, responses
from unitscope.probe.dissect.transforms import affine_batch

# transform -> (column of affine_batch's params, steps); each includes its identity value
STEPS = {
    "translation_x": (0, np.round(np.linspace(-0.5, 0.5, 11), 4)),
    "translation_y": (1, np.round(np.linspace(-0.5, 0.5, 11), 4)),
    "scale": (2, np.round(2.0 ** np.linspace(-2, 1, 13), 4)),  # 0.25x .. 2x
    "rotation": (3, np.linspace(-90, 90, 13)),  # degrees
}
IDENTITY = {"translation_x": 0.0, "translation_y": 0.0, "scale": 1.0, "rotation": 0.0}
UNITS = {"translation_x": "fraction of the frame", "translation_y": "fraction of the frame",
         "scale": "times", "rotation": "degrees"}  # fmt: skip


@dataclass
class Curve:
    transform: str
    values: list[float]
    mean: list[float]
    lo: list[float]  # 25th percentile over frames
    hi: list[float]  # 75th percentile
    range: list[float] | None  # [first, last] step above the reference, around the identity

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def invariance_range(values: np.ndarray, mean: np.ndarray, reference: float, identity: float):
    """[lo, hi]: the contiguous steps around `identity` whose mean response exceeds `reference`."""
    i = int(np.argmin(np.abs(values - identity)))
    if not mean[i] > reference:
        return None
    a = b = i
    while a > 0 and mean[a - 1] > reference:
        a -= 1
    while b < len(values) - 1 and mean[b + 1] > reference:
        b += 1
    return [float(values[a]), float(values[b])]


def curves(fn: UnitFn, frames: torch.Tensor, reference: float) -> dict[str, Curve]:
    """Every transform's curve for `frames` (k, 3, S, S normalised) under unit `fn`."""
    out = {}
    k = len(frames)
    for name, (col, values) in STEPS.items():
        params = torch.tensor([[0.0, 0.0, 1.0, 0.0]], dtype=torch.float64).repeat(len(values), 1)
        params[:, col] = torch.from_numpy(values.astype(np.float64))
        batch = affine_batch(frames.repeat(len(values), 1, 1, 1), params.repeat_interleave(k, 0))
        r = responses(fn, batch).view(len(values), k).numpy().astype(np.float64)
        mean = r.mean(axis=1)
        lo, hi = np.percentile(r, [25, 75], axis=1)
        out[name] = Curve(name, values.tolist(), mean.tolist(), lo.tolist(), hi.tolist(),
                          invariance_range(values, mean, reference, IDENTITY[name]))  # fmt: skip
    return out


def ranges(result: dict[str, Curve]) -> dict[str, list[float] | None]:
    """The JSON keys `translation_x_range`, `translation_y_range`, `scale_range`, `rotation_range`."""
    return {f"{name}_range": c.range for name, c in result.items()}
