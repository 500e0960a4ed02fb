"""Unsupervised objectives, chosen by name, and the Learner (encoder + objective) that training steps."""

from __future__ import annotations

import torch
from torch import nn
from unitscope.train.config import OBJECTIVES, TrainConfig
from unitscope.train.encoder import Encoder
from unitscope.train.objectives.sparse import SparseReconstruction
from unitscope.train.objectives.temporal import TemporalContrast


def build_objective(config: TrainConfig, encoder: Encoder) -> nn.Module:
    if config.objective == "temporal":
        return TemporalContrast(encoder.embed_dim, config.temperature)
    if config.objective == "sparse":
        return SparseReconstruction(config.sparsity)
    raise ValueError(f"unknown objective {config.objective!r}: choose one of {', '.join(OBJECTIVES)}")


class Learner(nn.Module):
    """What the optimizer trains: the encoder plus the objective's own parameters (e.g. a projection
    head). Its forward returns the loss and its logged terms."""

    def __init__(self, encoder: Encoder, objective: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.objective = objective

    def forward(self, *views: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.objective(self.encoder, [self.encoder.normalize(v) for v in views])
