"""The conv encoder kinds: blocks of train/layers.py stacked, each layer `convN` a named map of units;
`conv` blocks (conv, ReLU, max-pool) and Le et al.'s `le` blocks (filters, L2 pooling, local contrast
normalisation)."""

from __future__ import annotations

import torch
from torch import nn
from unitscope.train.encoder import EncoderBase, EncoderSpec
from unitscope.train.layers import BLOCKS
from unitscope.train.models.registry import EncoderKind


class ConvEncoder(EncoderBase):
    """Single-device conv encoder (blocks of train/layers.py)."""

    def __init__(self, spec: EncoderSpec):
        super().__init__(spec)
        block = BLOCKS[spec.block]
        cins = [3, *spec.channels[:-1]]
        self.blocks = nn.ModuleDict(
            {
                name: block(cin, cout, k)
                for name, cin, cout, k in zip(spec.layers, cins, spec.channels, spec.kernels, strict=True)
            }
        )

    def layer_parts(self, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Per layer: (filter input, linear responses, output); the sparse objective's view."""
        parts = []
        for block in self.blocks.values():
            p = block.parts(x)
            parts.append(p)
            x = p[2]
        return parts

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {}
        for name, block in self.blocks.items():
            x = block(x)
            out[name] = x
        return out

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks.values():
            x = block(x)
        return self.pool(x)


def _build(spec: EncoderSpec, seed: int) -> ConvEncoder:
    return ConvEncoder(spec)  # build_encoder seeded torch's generator with `seed`


KINDS = [
    EncoderKind("conv", {"conv4": 4, "conv5": 5, "conv6": 6}, _build),
    EncoderKind("le", {"le3": 3, "le4": 4}, _build),
]
