"""Checkpoints in RUN/checkpoints/: model, optimizer, scheduler, step, loader position and config.

Each checkpoint is one file written atomically (`step-NNNNNNNN.pt`) with its SHA-256 beside it
(`step-NNNNNNNN.pt.sha256`), then `latest.json` is pointed at it; a run killed at any moment leaves the
previous complete checkpoint in place. Loading checks the digest (torch's zip reader ignores its CRCs, so a
flipped byte in a tensor loads silently otherwise) and uses `torch.load(weights_only=True)`: checkpoints
hold tensors and plain values only.
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


SUFFIX = ".sha256"


def _name(step: int) -> str:
    return f"step-{step:08d}.pt"


def save(run_url: str, state: dict[str, Any], keep: int) -> str:
    """Write `state` (must hold "step") as the newest checkpoint and drop all but the `keep` newest."""
    step = int(state["step"])
    url = storage.join(run_url, DIR, _name(step))
    data = storage.torch_bytes(state)
    storage.write_bytes(url, data)
    digest = storage.sha256_hex(data)
    storage.write_text(url + SUFFIX, digest)
    doc = {"step": step, "file": _name(step), "sha256": digest}
    storage.write_text(storage.join(run_url, DIR, LATEST), json.dumps(doc))
    fs, base = storage.url_to_fs(storage.join(run_url, DIR))
    names = sorted(p.rsplit("/", 1)[-1] for p in fs.glob(f"{base}/step-*.pt"))
    for old in names[:-keep]:
        if old != _name(step):
            fs.rm(f"{base}/{old}")
            if fs.exists(f"{base}/{old}{SUFFIX}"):
                fs.rm(f"{base}/{old}{SUFFIX}")
    return url


def recorded_digest(run_url: str, name: str, latest: dict[str, Any]) -> str | None:
    """The SHA-256 recorded for checkpoint `name` when it was written: in `latest` (latest.json's content)
    when it names it, else beside it; None for a checkpoint written before digests were kept."""
    if latest.get("file") == name and latest.get("sha256"):
        return str(latest["sha256"])
    url = storage.join(run_url, DIR, name + SUFFIX)
    return storage.read_bytes(url).decode(errors="replace").strip() if storage.exists(url) else None


def _fix(run_url: str, name: str) -> str:
    """How to go on when checkpoint `name` is damaged: resume from the one before it, when there is one."""
    fs, base = storage.url_to_fs(storage.join(run_url, DIR))
    older = sorted(n for n in (p.rsplit("/", 1)[-1] for p in fs.glob(f"{base}/step-*.pt")) if n < name)
    if not older:
        return f"delete {DIR}/ of {run_url} and train again"
    step = int(older[-1][5:13])
    return (
        f"to resume from the checkpoint before it, write {json.dumps({'step': step, 'file': older[-1]})} "
        f"into {DIR}/{LATEST} and run the same command again; or delete {DIR}/ and train again"
    )


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
    try:
        doc = json.loads(storage.read_bytes(url))
        name = str(doc["file"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        fix = _fix(run_url, "step-99999999.pt")
        raise DamageError(f"{url} is damaged ({type(exc).__name__}); {fix}") from exc
    ckpt = storage.join(run_url, DIR, name)
    fix = _fix(run_url, name)
    if not storage.exists(ckpt):
        raise DamageError(f"{ckpt}, named by {DIR}/{LATEST}, is missing; {fix}")
    data = storage.check_digest(ckpt, storage.read_bytes(ckpt), recorded_digest(run_url, name, doc), fix)
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # cut short or not torch's: zip, pickle and EOF errors
        raise DamageError(f"{ckpt} is damaged ({type(exc).__name__}); {fix}") from exc
