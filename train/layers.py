"""Building blocks of the encoder family: local contrast normalisation, L2 pooling and the two blocks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class LocalContrastNorm(nn.Module):
    """Le et al. 2012 / Jarrett et al. 2009: subtract a Gaussian-weighted local mean (over space and
    channels), then divide by the local standard deviation, floored at its mean over the image."""

    def __init__(self, kernel: int = 5, sigma: float = 1.5, eps: float = 1e-4):
        super().__init__()
        ax = torch.arange(kernel, dtype=torch.float32) - (kernel - 1) / 2
        g = torch.exp(-(ax**2) / (2 * sigma**2))
        g2 = torch.outer(g, g)
        self.register_buffer("window", (g2 / g2.sum())[None, None], persistent=False)
        self.pad = kernel // 2
        self.eps = eps

    def _smooth(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x.mean(dim=1, keepdim=True), [self.pad] * 4, mode="replicate")
        return F.conv2d(x, self.window.to(x.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = x - self._smooth(x)
        sd = self._smooth(v * v).clamp_min(0).sqrt()
        floor = sd.mean(dim=(2, 3), keepdim=True)
        return v / torch.maximum(sd, floor).clamp_min(self.eps)


def l2_pool(z: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """L2 pooling over overlapping 3x3 neighbourhoods with stride 2: sqrt(mean of squares)."""
    return F.avg_pool2d(z * z, kernel_size=3, stride=2, padding=1, count_include_pad=False).add(eps).sqrt()


class ConvBlock(nn.Module):
    """conv -> BatchNorm -> ReLU -> 2x2 max-pool (the default, fast family)."""

    def __init__(self, cin: int, cout: int, kernel: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False)
        self.norm = nn.BatchNorm2d(cout)

    def parts(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(what the filters see, the linear filter responses, the block's output)."""
        z = self.conv(x)
        return x, z, F.max_pool2d(F.relu(self.norm(z)), 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.parts(x)[2]


class LeBlock(nn.Module):
    """Le et al. 2012's stage: local contrast normalisation -> linear filters -> L2 pooling."""

    def __init__(self, cin: int, cout: int, kernel: int):
        super().__init__()
        self.lcn = LocalContrastNorm()
        self.conv = nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False)

    def parts(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        inp = self.lcn(x)
        z = self.conv(inp)
        return inp, z, l2_pool(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.parts(x)[2]


BLOCKS = {"conv": ConvBlock, "le": LeBlock}
