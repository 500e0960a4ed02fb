"""The encoder file pair in a run directory: RUN/encoder.pt (plain state dict) + RUN/encoder.json (spec)."""

from __future__ import annotations

import io
import json

import torch
from pydantic import ValidationError
from unitscope.train.encoder import EncoderBase, EncoderSpec, build_encoder

from unitscope.core import storage
from unitscope.core.errors import DamageError, InputError

ENCODER_WEIGHTS = "encoder.pt"
ENCODER_SPEC = "encoder.json"
WEIGHTS_SHA256 = "encoder.sha256"  # encoder.pt's digest, written after it and before encoder.json


def save_encoder(encoder: EncoderBase, run_url: str) -> str:
    """Write the weights (CPU tensors, loadable with weights_only=True), then the spec; returns the URL."""
    state = {k: v.detach().cpu().clone() for k, v in encoder.state_dict().items()}
    url = storage.join(run_url, ENCODER_WEIGHTS)
    data = storage.torch_bytes(state)
    storage.write_bytes(url, data)
    storage.write_text(storage.join(run_url, WEIGHTS_SHA256), storage.sha256_hex(data))
    storage.write_text(storage.join(run_url, ENCODER_SPEC), encoder.spec.model_dump_json(indent=2))
    return url


def _recorded_digest(run_url: str) -> str | None:
    url = storage.join(run_url, WEIGHTS_SHA256)
    return storage.read_bytes(url).decode(errors="replace").strip() if storage.exists(url) else None


def _spec_doc(run_url: str) -> dict:
    url = storage.join(run_url, ENCODER_SPEC)
    try:
        return json.loads(storage.read_bytes(url))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DamageError(f"{url} is damaged ({exc}); {retrain(run_url)}") from exc


def retrain(run_url: str) -> str:
    return (
        f"train the encoder again (`unitscope train DATASET NEW_RUN`; the run {run_url} cannot be repaired)"
    )


def load_spec(run_url: str) -> EncoderSpec:
    url = storage.join(run_url, ENCODER_SPEC)
    if not storage.exists(url):
        raise InputError(
            f"{run_url} has no encoder ({ENCODER_SPEC} is missing): train one first with "
            f"`unitscope train DATASET {run_url}`, or let an interrupted run finish with --resume"
        )
    doc = _spec_doc(run_url)
    try:
        return EncoderSpec.model_validate(doc)
    except ValidationError as exc:
        raise DamageError(f"{url} is damaged ({str(exc).splitlines()[0]}); {retrain(run_url)}") from exc


def load_encoder(run_url: str, device: str | torch.device = "cpu") -> EncoderBase:
    """The trained encoder of a run, in eval mode on `device`."""
    spec = load_spec(run_url)
    url = storage.join(run_url, ENCODER_WEIGHTS)
    if not storage.exists(url):
        raise InputError(f"{run_url} has {ENCODER_SPEC} but no {ENCODER_WEIGHTS}: the run did not finish")
    data = storage.check_digest(url, storage.read_bytes(url), _recorded_digest(run_url), retrain(run_url))
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # a file cut short or not torch's: zip, pickle and EOF errors
        raise DamageError(f"{url} is damaged ({type(exc).__name__}); {retrain(run_url)}") from exc
    encoder = build_encoder(spec, seed=0)
    try:
        encoder.load_state_dict(state)
    except (RuntimeError, TypeError) as exc:  # names or shapes that are not the spec's
        raise DamageError(
            f"{url} does not fit {ENCODER_SPEC} ({str(exc).splitlines()[0]}); {retrain(run_url)}"
        ) from exc
    return encoder.to(device).eval()
