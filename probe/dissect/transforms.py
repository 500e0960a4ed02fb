"""Affine transforms of normalised image batches: shift, zoom and in-plane rotation about the centre.

Pixels brought in from outside the frame are 0 in the normalised space, the dataset's mean grey, so a
transformed frame adds no edge of its own for a unit to respond to."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def affine(x: torch.Tensor, dx: float = 0.0, dy: float = 0.0, scale: float = 1.0, degrees: float = 0.0):
    """`x` (N, C, H, W) moved right by `dx` and down by `dy` (fractions of the side), its content
    magnified `scale` times and turned `degrees` counter-clockwise, all about the centre."""
    return affine_batch(x, torch.tensor([[dx, dy, scale, degrees]], dtype=torch.float64).expand(len(x), 4))


def affine_batch(x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """One transform per image: `params` (N, 4) rows of (dx, dy, scale, degrees) as in `affine`."""
    dx, dy, s, deg = params.double().unbind(1)
    a = deg * math.pi / 180
    cos, sin = torch.cos(a) / s, torch.sin(a) / s
    # affine_grid maps output to input coordinates ([-1, 1] across the frame): the inverse transform
    theta = torch.stack(
        [
            torch.stack([cos, sin, -(cos * 2 * dx + sin * 2 * dy)], 1),
            torch.stack([-sin, cos, -(-sin * 2 * dx + cos * 2 * dy)], 1),
        ],
        1,
    ).to(x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
