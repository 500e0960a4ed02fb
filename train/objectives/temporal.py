"""The `temporal` objective: contrastive learning (SimCLR's NT-Xent) where the positive of a frame is a
nearby frame of the same video, each under its own augmentation; the rest of the batch are negatives.

Default batches (`video_group` = 16) hold groups of 16 pairs per video whose anchors lie more than
`pair_max_gap_s` apart, so many negatives share the positive's background and differ in what moved: a
clip's background alone no longer tells a positive from a negative (time-contrastive negatives, as in
TCN). By default the two views of a pair are cut around what moved between its frames, with shuffled
colour channels (train/motion.py), at half the input size. Measured on the planted-concept corpus in
tests/bench/train_quality.py."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from unitscope.train.encoder import EncoderBase
from unitscope.train.objectives.registry import Objective


class TemporalContrast(nn.Module):
    def __init__(self, embed_dim: int, temperature: float, hidden: int = 512, out: int = 128):
        super().__init__()
        self.temperature = temperature
        self.head = nn.Sequential(
            nn.Linear(embed_dim, hidden, bias=False),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, out),
        )

    def forward(self, encoder: EncoderBase, views: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        a, b = views
        n = a.shape[0]
        h = encoder.embed(torch.cat([a, b]))
        z = F.normalize(self.head(h).float(), dim=1)
        sim = z @ z.T / self.temperature
        sim.fill_diagonal_(float("-inf"))
        target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
        loss = F.cross_entropy(sim, target)
        with torch.no_grad():
            acc = (sim.argmax(dim=1) == target).float().mean()
            pos = (z[:n] * z[n:]).sum(dim=1).mean()
            std = F.normalize(h.float(), dim=1).std(dim=0).mean()
        return {"loss": loss, "nce": loss.detach(), "pair_acc": acc, "pos_sim": pos, "embed_std": std}


OBJECTIVE = Objective(
    name="temporal",
    help="contrastive: nearby frames of one video are positives (the default)",
    arch="conv4",
    width=32,
    steps=400,
    view_fraction=0.5,
    needs_pairs=True,
    build=lambda config, encoder: TemporalContrast(encoder.embed_dim, config.temperature),
)
