"""The Learner that training steps: the encoder and the loss module of the configured objective."""

from __future__ import annotations

import torch
from torch import nn
from unitscope.train.config import TrainConfig
from unitscope.train.encoder import EncoderBase
from unitscope.train.objectives import registry


def build_objective(config: TrainConfig, encoder: EncoderBase) -> nn.Module:
    objective = registry.get(config.objective)
    if objective.build is None:
        raise ValueError(f"objective {objective.name!r} fits its encoder itself; it has no loss to step")
    return objective.build(config, encoder)


class Learner(nn.Module):
    """What the optimizer trains: the encoder plus the objective's own parameters (e.g. a projection
    head). Its forward returns the loss and its logged terms."""

    def __init__(self, encoder: EncoderBase, objective: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.objective = objective

    def forward(self, *views: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.objective(self.encoder, [self.encoder.normalize(v) for v in views])
