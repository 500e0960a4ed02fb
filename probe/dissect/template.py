"""The closed form of a K-means unit's preferred patch: its centroid taken back out of the whitened space.

A `kmeans1` unit scores a patch by the dot product of its centroid c with the whitened patch
z = (x - mean) W. Among whitened patches of unit length the best is c itself, the normalised patch
x - mean = c W^-1: the de-whitened template (Coates & Ng draw their dictionaries so). A `group1` unit is the
mean of its members, so it is shown as their templates side by side."""

from __future__ import annotations

import numpy as np
import torch
from unitscope.probe.dissect.response import members
from unitscope.train.models.patch import PatchDictionary


def dewhitened(enc: PatchDictionary, units: list[int]) -> np.ndarray:
    """(len(units), p, p, C) float templates in normalised-patch units (zero mean, arbitrary scale)."""
    w = enc.whiten.double()
    c = enc.centroids[units].double()
    t = torch.linalg.solve(w, c.T).T  # c W^-1, W symmetric
    p, ch = enc.spec.kernels[0], enc.spec.patch_channels
    return t.view(len(units), ch, p, p).permute(0, 2, 3, 1).numpy()


def unit_templates(enc: PatchDictionary, layer: str, channel: int) -> tuple[list[int], np.ndarray]:
    """The `kmeans1` units a unit reads and their de-whitened templates."""
    idx = members(enc, layer, channel)
    return idx, dewhitened(enc, idx)
