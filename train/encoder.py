"""What every encoder is: its spec (saved beside its weights), the base class the probe relies on, the
factory and the input preprocessing. The kinds themselves are modules of train/models/: a small conv net
whose units are the channels of named layers `conv1..convN` (models/conv.py), or a K-means patch
dictionary whose units are the channels of `kmeans1` and of `group1`, its temporally coherent groups
(models/patch.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict
from torch import nn
from unitscope.train.models import registry

SPEC_VERSION = 1
MEAN = (0.5, 0.5, 0.5)
STD = (0.25, 0.25, 0.25)
PATCH_SCALES = (0.125, 0.1875, 0.25, 0.375, 0.5, 0.75, 1.0)  # K-means pyramid, fractions of the input side


class EncoderSpec(BaseModel):
    """Everything needed to rebuild an encoder (saved as RUN/encoder.json next to its weights)."""

    model_config = ConfigDict(extra="forbid")

    version: int = SPEC_VERSION
    arch: str
    block: str
    width: int
    depth: int
    input_size: int
    channels: list[int]
    kernels: list[int]
    layers: list[str]
    mean: tuple[float, float, float] = MEAN
    std: tuple[float, float, float] = STD
    embed_pool: str = "max"
    # patch dictionaries (block "patch") only: pyramid sides in pixels, match stride, patch channels
    scales: list[int] | None = None
    stride: int = 1
    patch_channels: int = 1
    group: int = 1  # >1: a second layer `group1`, each unit the mean of `group` kmeans1 units (dictionary.py)

    @classmethod
    def create(
        cls,
        arch: str,
        width: int,
        depth: int | None,
        input_size: int,
        patch: int = 12,
        stride: int = 1,
        group: int = 1,
    ) -> EncoderSpec:
        family = registry.archs()
        if arch not in family:
            raise ValueError(f"unknown arch {arch!r}: choose one of {', '.join(family)}")
        block, default_depth = family[arch]
        if block == "patch":
            scales = sorted({max(patch, round(input_size * f)) for f in PATCH_SCALES})
            grouped = group > 1
            return cls(arch=arch, block=block, width=width, depth=1 + grouped, input_size=input_size,
                       channels=[width] * (1 + grouped), kernels=[patch] + [1] * grouped,
                       layers=["kmeans1"] + ["group1"] * grouped, scales=scales, stride=stride, group=group)  # fmt: skip
        depth = depth or default_depth
        if input_size >> depth < 1:
            raise ValueError(f"input_size {input_size} is too small for {depth} pooling layers")
        channels = [min(width * 2**i, width * 8) for i in range(depth)]
        kernels = [5] + [3] * (depth - 1)
        layers = [f"conv{i + 1}" for i in range(depth)]
        return cls(arch=arch, block=block, width=width, depth=depth, input_size=input_size,
                   channels=channels, kernels=kernels, layers=layers)  # fmt: skip


class EncoderBase(nn.Module):
    """What every encoder offers: `features` gives every named layer's NCHW activations, `embed` the
    pooled last layer, `randomized` the same architecture with random weights (the probe's control).
    Inputs are float tensors made by `preprocess` / `normalize`."""

    def __init__(self, spec: EncoderSpec):
        super().__init__()
        self.spec = spec
        self.register_buffer("mean", torch.tensor(spec.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(spec.std).view(1, 3, 1, 1), persistent=False)

    @property
    def layer_names(self) -> list[str]:
        return list(self.spec.layers)

    @property
    def embed_dim(self) -> int:
        return self.spec.channels[-1]

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 (or 0..255 float) NCHW -> the normalised float input training used."""
        return (x.float() / 255.0 - self.mean) / self.std

    def preprocess(self, images: Any) -> torch.Tensor:
        return preprocess(images, self.spec).to(self.mean.device)

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def randomized(self, seed: int) -> EncoderBase:
        return build_encoder(self.spec, seed).to(self.mean.device)

    def pool(self, h: torch.Tensor) -> torch.Tensor:
        return h.amax(dim=(2, 3)) if self.spec.embed_pool == "max" else h.mean(dim=(2, 3))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.features(x)[self.spec.layers[-1]])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(x)


def build_encoder(spec: EncoderSpec | dict, seed: int = 0) -> EncoderBase:
    """The architecture of `spec` with random weights drawn from `seed` (for conv nets also the probe's
    control; a patch dictionary's control keeps its trained whitening: `EncoderBase.randomized`)."""
    spec = spec if isinstance(spec, EncoderSpec) else EncoderSpec.model_validate(spec)
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        return registry.kind(spec.block).build(spec, seed)
    finally:
        torch.random.set_rng_state(state)


def preprocess(images: Any, spec: EncoderSpec | dict) -> torch.Tensor:
    """Images (uint8 NHWC/HWC numpy, a PIL image or a list of them) -> normalised float NCHW tensor at the
    encoder's input size (whole frame resized, as at probe time; training crops come from augmentation)."""
    from PIL import Image

    spec = spec if isinstance(spec, EncoderSpec) else EncoderSpec.model_validate(spec)
    if isinstance(images, Image.Image):
        images = [images]
    if isinstance(images, np.ndarray):
        if images.dtype != np.uint8:
            raise ValueError(f"preprocess expects uint8 images, got {images.dtype}")
        arr = images[None] if images.ndim == 3 else images
        x = torch.from_numpy(np.ascontiguousarray(arr)).permute(0, 3, 1, 2)
    else:
        x = torch.stack([torch.from_numpy(np.array(im.convert("RGB"), dtype=np.uint8)).permute(2, 0, 1)
                         for im in images])  # fmt: skip
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"preprocess expects RGB images (N, H, W, 3), got shape {tuple(x.shape)}")
    x = x.float()
    if x.shape[-2:] != (spec.input_size, spec.input_size):
        x = F.interpolate(x, size=(spec.input_size, spec.input_size), mode="bilinear", antialias=True,
                          align_corners=False).clamp(0, 255)  # fmt: skip
    mean = torch.tensor(spec.mean).view(1, 3, 1, 1)
    std = torch.tensor(spec.std).view(1, 3, 1, 1)
    return (x / 255.0 - mean) / std
