"""A unit's optimal stimulus: the input of bounded norm that maximises its response.

Le et al. (2012) found it by projected gradient ascent: step up the gradient, then project back onto the
ball ||x||_2 <= r. Left at that, the optimum of a deep unit is adversarial high-frequency noise; the
feature-visualisation regularizers (Olah et al. 2017) make it a picture: the image is parameterised by
its Fourier spectrum scaled by 1/frequency (low frequencies move first, a decorrelated basis), and each
step scores the image under random jitter, zoom and rotation, so only what survives them is kept.
The image is linear in the spectrum, so the projection is a rescaling of the spectrum. Seeded: the
same unit, config and seed give the same image."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
from unitscope.probe.dissect.response import UnitFn
from unitscope.probe.dissect.transforms import affine_batch


@dataclass(frozen=True)
class StimulusConfig:
    steps: int = 96
    lr: float = 0.12  # Adam step on the spectrum
    rms: float = 1.0  # norm bound as a root-mean-square per value, in normalised units (1.0 = 64 grey levels)
    batch: int = 2  # randomly transformed copies scored per step
    jitter: float = 0.0625  # largest shift, a fraction of the side
    zoom: float = 0.05  # zoom drawn from [1 - zoom, 1 + zoom]
    degrees: float = 4.0  # rotation drawn from [-degrees, degrees]
    decay: float = 1.0  # spectrum scaled by 1 / frequency^decay (0: plain pixels)
    seed: int = 0
    threads: int = 1  # torch threads: small per-step work; more threads only wait on each other

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Stimulus:
    image: np.ndarray  # (H, W, 3) normalised float32: the optimum
    response: float  # the unit's response to it, untransformed
    seconds: float


def spectrum_scale(side: int, decay: float) -> torch.Tensor:
    """(side, side // 2 + 1) weights 1 / max(f, 1 / side)^decay of the real FFT's frequencies."""
    fy = torch.fft.fftfreq(side)[:, None]
    fx = torch.fft.rfftfreq(side)[None, :]
    f = torch.sqrt(fx * fx + fy * fy).clamp_min(1.0 / side)
    return f.pow(-decay) / f.pow(-decay).max()


def optimal_stimulus(
    fn: UnitFn, side: int, cfg: StimulusConfig = StimulusConfig(), channels: int = 3
) -> Stimulus:
    """Projected gradient ascent of `fn` over (1, channels, side, side) normalised inputs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        return _ascend(fn, side, cfg, channels)
    finally:
        torch.set_num_threads(threads)


def _ascend(fn: UnitFn, side: int, cfg: StimulusConfig, channels: int) -> Stimulus:
    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(cfg.seed)
    scale = spectrum_scale(side, cfg.decay)
    spec = (torch.randn(1, channels, side, side // 2 + 1, 2, generator=gen) * 0.01).requires_grad_(True)
    bound = cfg.rms * (channels * side * side) ** 0.5

    def image() -> torch.Tensor:
        return torch.fft.irfft2(torch.view_as_complex(spec) * scale, s=(side, side), norm="ortho")

    def project() -> None:
        with torch.no_grad():
            n = float(image().norm())
            if n > bound:
                spec.mul_(bound / n)

    project()
    opt = torch.optim.Adam([spec], lr=cfg.lr)
    for _ in range(cfg.steps):
        u = torch.rand(cfg.batch, 4, generator=gen, dtype=torch.float64) * 2 - 1
        params = torch.stack(
            [u[:, 0] * cfg.jitter, u[:, 1] * cfg.jitter, 1 + u[:, 2] * cfg.zoom, u[:, 3] * cfg.degrees], 1
        )
        x = affine_batch(image().expand(cfg.batch, -1, -1, -1), params)
        loss = -fn(x).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        project()
    with torch.no_grad():
        x = image()
        response = float(fn(x)[0])
    return Stimulus(x[0].permute(1, 2, 0).numpy().astype(np.float32), response, time.perf_counter() - t0)
