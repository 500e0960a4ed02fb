"""Where a unit fires: each unit's spatial map on a frame, at the frame's own resolution.

- conv layers: the channel's feature map, upsampled bilinearly to the frame (as NetDissect does);
- `kmeans1`: the template's match at every position of every pyramid scale, each scale's map placed at
  the patch centres it was computed for and resampled bilinearly to the frame, then maxed over scales
  (the pooled response is the maximum of this map);
- `group1`: its units are pooled scalars with no place, so a group's map is the mean of its members'
  `kmeans1` maps (the pooled response is the mean of the members' maxima).

Maps are computed for a few frames at a time (a unit's top frames, a capped sample of a concept's
positives), never for the whole corpus.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from unitscope.core.errors import InputError

GROUP_LAYER = "group1"


def check_units(enc, units: list[tuple[str, int]]) -> None:
    """InputError naming the unit and the layers that have maps when a unit is not one of `enc`'s."""
    channels = dict(zip(enc.spec.layers, enc.spec.channels, strict=True))
    for layer, ch in units:
        if layer not in channels:
            raise InputError(
                f"layer {layer!r} has no spatial maps: the encoder's layers are {', '.join(channels)}"
            )
        if not 0 <= ch < channels[layer]:
            raise InputError(
                f"unit {layer}/{ch} does not exist: {layer} has channels 0..{channels[layer] - 1}"
            )


def _patch_maps(enc, x: torch.Tensor, channels: list[int], size: tuple[int, int]) -> torch.Tensor:
    """(N, len(channels), H, W) template-match maps of kmeans1 `channels` at frame `size`: per scale the
    responses sit at their patches' centres; between centres bilinear, beyond the outermost the edge."""
    f, offset = enc.filters()
    idx = torch.as_tensor(channels, dtype=torch.long, device=f.device)
    f, offset = f[idx].to(x.dtype), offset[idx].to(x.dtype)
    g = enc.pixels(x)
    p, stride = enc.spec.kernels[0], enc.spec.stride
    h, w = size
    out = None
    for s in enc.spec.scales:
        r = enc.responses(g, s, f, offset).contiguous()  # N, k, side, side
        side = r.shape[-1]
        # frame pixel centre u (frame px) -> scale px u*s/h -> response index (u*s/h - p/2) / stride
        ys = ((torch.arange(h, dtype=x.dtype) + 0.5) * s / h - p / 2) / stride
        xs = ((torch.arange(w, dtype=x.dtype) + 0.5) * s / w - p / 2) / stride
        norm = max(side - 1, 1)
        gy, gx = (ys / norm * 2 - 1), (xs / norm * 2 - 1)
        grid = torch.stack(torch.meshgrid(gy, gx, indexing="ij")[::-1], dim=-1)
        grid = grid.expand(len(r), h, w, 2).to(r.device)
        m = F.grid_sample(r, grid, mode="bilinear", padding_mode="border", align_corners=True)
        out = m if out is None else torch.maximum(out, m)
    return out


def layer_maps(enc, x: torch.Tensor, units: list[tuple[str, int]], size: tuple[int, int]) -> torch.Tensor:
    """(N, len(units), H, W) maps of `units` for the preprocessed batch `x`, at frame `size` (H, W)."""
    maps: dict[tuple[str, int], torch.Tensor] = {}
    if enc.spec.block == "patch":
        kmeans = enc.spec.layers[0]
        members = {
            (layer, ch): enc.partners[ch].tolist() if layer == GROUP_LAYER else [ch] for layer, ch in units
        }
        need = sorted({c for ms in members.values() for c in ms})
        pm = _patch_maps(enc, x, need, size)
        col = {c: i for i, c in enumerate(need)}
        for u, ms in members.items():
            maps[u] = pm[:, [col[c] for c in ms]].mean(dim=1) if u[0] != kmeans else pm[:, col[ms[0]]]
    else:
        feats = enc.features(x)
        for layer in {layer for layer, _ in units}:
            chs = [ch for lay, ch in units if lay == layer]
            up = F.interpolate(feats[layer][:, chs].float(), size=size, mode="bilinear", align_corners=False)
            for i, ch in enumerate(chs):
                maps[(layer, ch)] = up[:, i]
    return torch.stack([maps[u] for u in units], dim=1)


def unit_maps(enc, images: list[Image.Image], units: list[tuple[str, int]], batch: int = 16) -> np.ndarray:
    """(len(images), len(units), H, W) float32 maps of `units` on `images` (RGB, all of one size H x W)
    for the encoder `enc` (probe.encoders.open_encoder: trained or the random control)."""
    check_units(enc, units)
    if not images:
        return np.zeros((0, len(units), 0, 0), np.float32)
    w, h = images[0].size
    if any(im.size != (w, h) for im in images):
        raise InputError("frames of different sizes in one map batch: map each size separately")
    out = []
    with torch.inference_mode():
        for i in range(0, len(images), batch):
            x = enc.preprocess(images[i : i + batch]).contiguous()
            out.append(layer_maps(enc, x, units, (h, w)).float().cpu().numpy())
    return np.concatenate(out)
