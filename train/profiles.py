"""Scale profiles: one switch that sets the training settings at which concept units emerge on a machine.

`cpu` is the defaults (2 cores, minutes). `gpu` is the scale at which the temporal objective's detectors
grew on one GPU: they grow with width and images seen (docs/benchmarks.md), so the profile trains conv4 at
width 128 with a full schedule of 12,000 steps x 256 pairs (6.1M images), annealed to the end. Values given explicitly (flags,
config file) win over the profile's.
"""

from __future__ import annotations

from typing import Any

PROFILES: dict[str, dict[str, Any]] = {
    "cpu": {},
    "gpu": {
        "objective": "temporal",
        "width": 128,
        "batch_size": 256,
        "steps": 12_000,
        "warmup_steps": 300,
        "loader_workers": 14,
        "loader_nice": 0,
        "shuffle_buffer": 4096,
        "checkpoint_every": 1000,
        "log_every": 100,
    },
}
# The corpus each profile's demo trains and probes on: 128 clips lift even the supervised ceiling from
# 0.76-0.84 (32 clips) to 0.88-0.92 best-unit AUC (tests/bench/train_ceiling.py).
DEMO_CORPUS: dict[str, dict[str, int]] = {
    "cpu": {"train_videos": 32, "probe_videos": 32},
    "gpu": {"train_videos": 128, "probe_videos": 32},
}


def resolve(profile: str | None) -> str | None:
    """`auto` -> `gpu` where CUDA is present, else `cpu`; other names as they are."""
    if profile != "auto":
        return profile
    import torch

    return "gpu" if torch.cuda.is_available() else "cpu"


def check_available(profile: str | None, address: str | None, use_gpu: bool | None = None) -> None:
    """ConfigError when the gpu profile is asked for on a machine without CUDA and no cluster to run on:
    it would train 12,000 steps at width 128 on the CPU, about 100x slower than it was sized for. Asking
    for the CPU explicitly (`use_gpu: false`) is taken at its word."""
    import os

    if profile != "gpu" or use_gpu is False or address or os.environ.get("RAY_ADDRESS"):
        return
    import torch

    if not torch.cuda.is_available():
        from unitscope.core.errors import ConfigError

        raise ConfigError(
            "--profile gpu needs CUDA, and this machine has none (torch.cuda.is_available() is False): use "
            "--profile cpu (or auto, which picks cpu here), or --address a Ray cluster with GPUs"
        )


def apply(profile: str | None, values: dict[str, Any]) -> dict[str, Any]:
    """`values` with the profile's settings filled in where `values` does not set them."""
    profile = resolve(profile)
    if profile is None:
        return values
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)} or auto")
    return {**PROFILES[profile], **{k: v for k, v in values.items() if v is not None}}
