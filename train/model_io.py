"""The encoder file pair in a run directory: RUN/encoder.pt (plain state dict) + RUN/encoder.json (spec)."""

from __future__ import annotations

import io
import json

import torch
from unitscope.train.encoder import EncoderBase, EncoderSpec, build_encoder

from unitscope.core import storage
from unitscope.core.errors import InputError

ENCODER_WEIGHTS = "encoder.pt"
ENCODER_SPEC = "encoder.json"


def save_encoder(encoder: EncoderBase, run_url: str) -> str:
    """Write the weights (CPU tensors, loadable with weights_only=True), then the spec; returns the URL."""
    state = {k: v.detach().cpu().clone() for k, v in encoder.state_dict().items()}
    url = storage.join(run_url, ENCODER_WEIGHTS)
    storage.write_bytes(url, storage.torch_bytes(state))
    storage.write_text(storage.join(run_url, ENCODER_SPEC), encoder.spec.model_dump_json(indent=2))
    return url


def load_spec(run_url: str) -> EncoderSpec:
    url = storage.join(run_url, ENCODER_SPEC)
    if not storage.exists(url):
        raise InputError(
            f"{run_url} has no encoder ({ENCODER_SPEC} is missing): train one first with "
            f"`unitscope train DATASET {run_url}`, or let an interrupted run finish with --resume"
        )
    return EncoderSpec.model_validate(json.loads(storage.read_bytes(url)))


def load_encoder(run_url: str, device: str | torch.device = "cpu") -> EncoderBase:
    """The trained encoder of a run, in eval mode on `device`."""
    spec = load_spec(run_url)
    url = storage.join(run_url, ENCODER_WEIGHTS)
    if not storage.exists(url):
        raise InputError(f"{run_url} has {ENCODER_SPEC} but no {ENCODER_WEIGHTS}: the run did not finish")
    state = torch.load(io.BytesIO(storage.read_bytes(url)), map_location="cpu", weights_only=True)
    encoder = build_encoder(spec, seed=0)
    encoder.load_state_dict(state)
    return encoder.to(device).eval()
