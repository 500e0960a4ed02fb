"""Single-device training mechanics: optimizer, warmup + cosine schedule, and one step."""

from __future__ import annotations

import math
from contextlib import nullcontext

import torch
from torch import nn
from unitscope.train.config import TrainConfig


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW; no weight decay on norms and biases."""
    decay, plain = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim > 1 else plain).append(p)
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": plain, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.99))


class WarmupCosine:
    """lr factor: linear warmup to 1, then cosine decay to `floor` at `total` steps (picklable)."""

    def __init__(self, warmup: int, total: int, floor: float = 0.02):
        self.warmup, self.total, self.floor = warmup, total, floor

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / self.warmup
        t = min(1.0, (step - self.warmup) / max(1, self.total - self.warmup))
        return self.floor + (1 - self.floor) * 0.5 * (1 + math.cos(math.pi * t))


def make_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainConfig
) -> torch.optim.lr_scheduler.LambdaLR:
    warmup = min(config.warmup_steps, config.steps // 4)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, WarmupCosine(warmup, config.steps))


def autocast(device: torch.device):
    """bf16 autocast on CUDA, plain float32 elsewhere."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    views: list[torch.Tensor],
    device: torch.device,
) -> dict[str, float]:
    """One optimisation step on one batch; returns the loss terms as floats."""
    model.train()
    views = [v.to(device, non_blocking=True) for v in views]
    with autocast(device):
        out = model(*views)
    loss = out["loss"]
    if not torch.isfinite(loss):
        raise FloatingPointError(f"the loss became {loss.item()}: lower --lr or check the data")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    optimizer.step()
    scheduler.step()
    return {k: float(v.detach()) for k, v in out.items()}
