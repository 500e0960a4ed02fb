"""Checkpoints in RUN/checkpoints/: model, optimizer, scheduler, step, loader position and config.

Each checkpoint is one file written atomically (`step-NNNNNNNN.pt`), then `latest.json` is pointed at it;
a run killed at any moment leaves the previous complete checkpoint in place. Loading uses
`torch.load(weights_only=True)`: checkpoints hold tensors and plain values only.
"""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import torch

from unitscope.core import storage
from unitscope.core.errors import InputError

log = logging.getLogger(__name__)
DIR = "checkpoints"
LATEST = "latest.json"


def _name(step: int) -> str:
    return f"step-{step:08d}.pt"


def save(run_url: str, state: dict[str, Any], keep: int) -> str:
    """Write `state` (must hold "step") as the newest checkpoint and drop all but the `keep` newest."""
    step = int(state["step"])
    url = storage.join(run_url, DIR, _name(step))
    storage.write_bytes(url, storage.torch_bytes(state))
    storage.write_text(storage.join(run_url, DIR, LATEST), json.dumps({"step": step, "file": _name(step)}))
    fs, base = storage.url_to_fs(storage.join(run_url, DIR))
    names = sorted(p.rsplit("/", 1)[-1] for p in fs.glob(f"{base}/step-*.pt"))
    for old in names[:-keep]:
        if old != _name(step):
            fs.rm(f"{base}/{old}")
    return url


def latest_step(run_url: str) -> int | None:
    url = storage.join(run_url, DIR, LATEST)
    if not storage.exists(url):
        return None
    return int(json.loads(storage.read_bytes(url))["step"])


def load_latest(run_url: str) -> dict[str, Any]:
    """The newest checkpoint of a run; InputError when it has none."""
    url = storage.join(run_url, DIR, LATEST)
    if not storage.exists(url):
        raise InputError(
            f"{run_url} has no checkpoint to resume from ({DIR}/{LATEST} is missing): "
            "start it without --resume"
        )
    name = json.loads(storage.read_bytes(url))["file"]
    data = storage.read_bytes(storage.join(run_url, DIR, name))
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
