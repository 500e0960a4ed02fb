"""Invariance curves against units built to be invariant to one thing and not another: a fixed-size
template maxed over the frame ignores where the pattern is but not its size; a thin central strip
looking at a vertical bar ignores the bar's size but not where it is."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from unitscope.probe.dissect.invariance import STEPS, curves, invariance_range, ranges
from unitscope.probe.dissect.response import responses
from unitscope.probe.dissect.transforms import affine

SIDE = 48


def checker(side: int = 8) -> torch.Tensor:
    i = torch.arange(side)
    return ((i[:, None] // 2 + i[None, :] // 2) % 2 * 2 - 1).float()


def template_unit(x: torch.Tensor) -> torch.Tensor:
    """Translation-invariant, scale-sensitive: a fixed 8 px template's correlation with each window of
    the frame, max over positions."""
    t = checker().flatten()
    cols = F.unfold(x.mean(1, keepdim=True), 8)  # N, 64, L
    cols = cols - cols.mean(1, keepdim=True)
    r = (t[None, :, None] * cols).sum(1) / (cols.norm(dim=1) * t.norm() + 1e-6)
    return r.amax(dim=1)


def strip_unit(x: torch.Tensor) -> torch.Tensor:
    """Position-bound, scale-tolerant: the mean of a 2 px strip at the centre of the frame."""
    c = SIDE // 2
    return x[:, :, :, c - 1 : c + 1].mean(dim=(1, 2, 3))


def noise(n: int, seed: int) -> torch.Tensor:
    return torch.randn(n, 3, SIDE, SIDE, generator=torch.Generator().manual_seed(seed)) * 0.2


def checker_frames(n: int) -> torch.Tensor:
    x = noise(n, 1)
    for i, (dr, dc) in enumerate(np.random.default_rng(0).integers(-2, 3, (n, 2))):
        r, c = SIDE // 2 - 4 + dr, SIDE // 2 - 4 + dc
        x[i, :, r : r + 8, c : c + 8] = 2 * checker()
    return x


def bar_frames(n: int) -> torch.Tensor:
    x = noise(n, 2) - 1.0
    x[:, :, :, SIDE // 2 - 3 : SIDE // 2 + 3] = 2.0
    return x


def span(r, log=False):
    return 0.0 if r is None else (np.log2(r[1] / r[0]) if log else r[1] - r[0])


def test_template_unit_is_translation_invariant_and_scale_sensitive():
    ref = float(np.percentile(responses(template_unit, noise(64, 3)).numpy(), 95))
    got = ranges(curves(template_unit, checker_frames(6), ref))
    assert span(got["translation_x_range"]) >= 0.6 and span(got["translation_y_range"]) >= 0.6
    assert span(got["scale_range"], log=True) <= 0.5


def test_strip_unit_is_scale_invariant_and_translation_sensitive():
    ref = float(np.percentile(responses(strip_unit, noise(64, 3) - 1.0).numpy(), 95))
    got = ranges(curves(strip_unit, bar_frames(6), ref))
    assert span(got["translation_x_range"]) <= 0.1 and span(got["translation_y_range"]) >= 0.9
    assert span(got["scale_range"], log=True) >= 2.5


def test_curves_hold_every_step_and_a_band():
    c = curves(strip_unit, bar_frames(4), 0.0)
    assert set(c) == set(STEPS) and STEPS["scale"][1][0] == 0.25 and STEPS["scale"][1][-1] == 2.0
    for name, curve in c.items():
        assert len(curve.values) == len(curve.mean) == len(STEPS[name][1])
        assert all(lo <= hi for lo, hi in zip(curve.lo, curve.hi, strict=True))


def test_range_is_the_span_around_the_identity():
    v = np.array([-2.0, -1, 0, 1, 2])
    assert invariance_range(v, np.array([5, 0, 3, 4, 1.0]), 2.0, 0.0) == [0.0, 1.0]
    assert invariance_range(v, np.array([5, 5, 1, 5, 5.0]), 2.0, 0.0) is None


def test_affine_moves_content_the_stated_way():
    x = torch.zeros(1, 1, 20, 20)
    x[0, 0, 10, 10] = 1.0
    moved = affine(x, dx=0.25)
    assert moved[0, 0].argmax() == 10 * 20 + 15  # five pixels to the right
    down = affine(x, dy=0.25)
    assert down[0, 0].argmax() == 15 * 20 + 10
