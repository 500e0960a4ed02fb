"""Synthetic unit activations with known structure, for tests and benchmarks of the unit search.

Units are rectified mixtures of a few shared latent factors plus noise (real units share inputs, so
their response profiles are strongly correlated); a concept's labels come in runs within videos; a
planted unit is built to follow the concept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Planted:
    acts: np.ndarray  # frames x units, float16
    labels: np.ndarray  # frames, bool
    videos: np.ndarray  # frames, video ids (str)
    planted: list[int]  # units built to follow the concept, strongest first


def planted_activations(
    n_videos: int = 40,
    frames_per_video: int = 50,
    n_units: int = 300,
    n_factors: int = 16,
    planted_units: tuple[int, ...] = (17,),
    strength: float = 1.5,
    prevalence: float = 0.3,
    seed: int = 0,
) -> Planted:
    rng = np.random.default_rng(seed)
    n = n_videos * frames_per_video
    videos = np.repeat([f"{v:016x}" for v in range(n_videos)], frames_per_video)
    # Concept visibility: each video has its own rate, frames switch in short runs.
    rate = rng.beta(2 * prevalence, 2 * (1 - prevalence), n_videos)
    runs = rng.random((n_videos, frames_per_video // 5 + 1)) < rate[:, None]
    labels = np.repeat(runs, 5, axis=1)[:, :frames_per_video].reshape(-1)
    factors = rng.standard_normal((n, n_factors), dtype=np.float32)
    mix = rng.standard_normal((n_factors, n_units)).astype(np.float32) / np.sqrt(n_factors)
    acts = factors @ mix
    acts += 0.7 * rng.standard_normal((n, n_units), dtype=np.float32)
    for i, u in enumerate(planted_units):
        s = strength / (1 + 0.3 * i)
        acts[:, u] = s * labels + rng.standard_normal(n).astype(np.float32)
    np.maximum(acts, 0, out=acts)
    return Planted(acts.astype(np.float16), labels, videos, list(planted_units))
