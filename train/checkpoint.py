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
from unitscope.core.errors import DamageError, InputError

log = logging.getLogger(__name__)
DIR = "checkpoints"
LATEST = "latest.json"


def _name(step: int) -> str:
    return f"step-{step:08d}.pt"


def save(run_url: str, state: dict[str, Any], keep: int) -> str:
    """Write `state` (must hold "step") as the newest checkpoint and drop all but the `keep` newest."""
    step = int(state["step"])
    url = storage.join(run_url, DIR, _name(step))
    data = storage.torch_bytes(state)
    storage.write_bytes(url, data)
    doc = {"step": step, "file": _name(step), "sha256": storage.sha256_hex(data)}
    storage.write_text(storage.join(run_url, DIR, LATEST), json.dumps(doc))
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
    try:
        return int(json.loads(storage.read_bytes(url))["step"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise DamageError(
            f"{url} is damaged ({type(exc).__name__}); point it at a step-*.pt of {DIR}/ "
            '(`{"step": N, "file": "step-0000000N.pt"}`) or train a new run'
        ) from exc


def load_latest(run_url: str) -> dict[str, Any]:
    """The newest checkpoint of a run; InputError when it has none."""
    url = storage.join(run_url, DIR, LATEST)
    if not storage.exists(url):
        raise InputError(
            f"{run_url} has no checkpoint to resume from ({DIR}/{LATEST} is missing): "
            "start it without --resume"
        )
    fix = (
        f"delete {DIR}/ of {run_url} and train again, or point {DIR}/{LATEST} at an older step-*.pt "
        "(with its sha256 removed) to resume from there"
    )
    try:
        doc = json.loads(storage.read_bytes(url))
        name = doc["file"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise DamageError(f"{url} is damaged ({type(exc).__name__}); {fix}") from exc
    ckpt = storage.join(run_url, DIR, name)
    data = storage.check_digest(ckpt, storage.read_bytes(ckpt), doc.get("sha256"), fix)
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # cut short or not torch's: zip, pickle and EOF errors
        raise DamageError(f"{ckpt} is damaged ({type(exc).__name__}); {fix}") from exc
