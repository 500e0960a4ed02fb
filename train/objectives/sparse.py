"""The `sparse` objective, after Le et al. 2012 (RICA/TICA-like): every layer learns, from its own input,
filters that reconstruct that input through their transpose (tied weights) while the L2-pooled filter
responses stay sparse. Layers train together, each on the detached output of the one below."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from unitscope.train.layers import l2_pool
from unitscope.train.models.conv import ConvEncoder
from unitscope.train.objectives.registry import Objective


class SparseReconstruction(nn.Module):
    def __init__(self, sparsity: float):
        super().__init__()
        self.sparsity = sparsity

    def forward(self, encoder: ConvEncoder, views: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        x = views[0]
        recon = x.new_zeros(())
        sparse = x.new_zeros(())
        for block in encoder.blocks.values():
            inp, z, out = block.parts(x)
            conv = block.conv
            back = F.conv_transpose2d(z, conv.weight, padding=conv.padding)
            target = inp.detach()
            recon = recon + F.mse_loss(back.float(), target.float()) / target.float().var().clamp_min(1e-6)
            sparse = sparse + l2_pool(z).float().mean()
            x = out.detach()
        loss = recon + self.sparsity * sparse
        with torch.no_grad():
            std = F.normalize(encoder.pool(x).float(), dim=1).std(dim=0).mean()
        return {"loss": loss, "recon": recon.detach(), "sparse": sparse.detach(), "embed_std": std}


OBJECTIVE = Objective(
    name="sparse",
    help="Le et al. 2012: tied-weight reconstruction with L2-pooled sparsity, layer by layer",
    arch="le3",
    width=32,
    steps=400,
    build=lambda config, encoder: SparseReconstruction(config.sparsity),
)
