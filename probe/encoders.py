"""The encoders a probe runs: the run's trained encoder and the same architecture with random weights.

Built from the run URL inside each worker (never pickled) and cached per process, so a Ray worker that
handles many shards loads them once. `encode_batch` turns a batch of images into one row per image of
every unit's spatially pooled response, layers concatenated in the order given, and its embedding.
"""

from __future__ import annotations

import functools
import hashlib
import json

import numpy as np
import torch
from unitscope.pipeline.schema import DATASET_JSON
from unitscope.train.model_io import ENCODER_SPEC, ENCODER_WEIGHTS, load_encoder, load_spec

from unitscope.core import storage
from unitscope.core.errors import InputError


def default_device(device: str | None = None) -> str:
    return device or ("cuda" if torch.cuda.is_available() else "cpu")


def check_run(run_url: str) -> dict:
    """The run's encoder spec; InputError naming the run and the fix when it has no encoder."""
    run_url = run_url.rstrip("/")
    fs, root = storage.url_to_fs(run_url)
    missing = [name for name in (ENCODER_WEIGHTS, ENCODER_SPEC) if not fs.exists(f"{root}/{name}")]
    if missing and fs.exists(f"{root}/{DATASET_JSON}"):
        raise InputError(
            f"{run_url} is a dataset written by `unitscope ingest`, not a run: the order is "
            f"`unitscope probe RUN DATASET`; train a run on it first with `unitscope train {run_url} RUN`"
        )
    if missing:
        raise InputError(
            f"{run_url} has no trained encoder ({', '.join(missing)} missing); train one first with "
            f"`unitscope train DATASET {run_url}`, or point at a run directory that holds one"
        )
    return load_spec(run_url).model_dump()  # DamageError when encoder.json is damaged


def fingerprint(
    run_url: str, dataset: str, shard_ids: list[str], layers: list[str], pool: str, seed: int
) -> str:
    """Identifies what stored activations were computed from: the encoder's content (weights and spec),
    dataset and its shards (`shard_ids`, e.g. checksums), layers, pooling, seed. The encoder is hashed,
    not its size and time stamp: a retrained encoder of the same size, copied with its times kept, would
    give the old fingerprint and the old activations would be reused."""
    fs, root = storage.url_to_fs(run_url.rstrip("/"))
    encoder = hashlib.sha256(fs.cat_file(f"{root}/{ENCODER_WEIGHTS}"))
    encoder.update(fs.cat_file(f"{root}/{ENCODER_SPEC}"))
    token = json.dumps([encoder.hexdigest(), dataset.rstrip("/"), shard_ids, layers, pool, seed])
    return hashlib.sha1(token.encode()).hexdigest()[:16]


# Images per forward pass on CPU. A chunk's activations stay in cache, and channels-last is oneDNN's fast
# convolution path: together 2.5-3x the frames/s of one 64-image NCHW pass on the default encoders.
CPU_CHUNK = 8


@functools.lru_cache(maxsize=4)
def open_encoder(run_url: str, network: str, seed: int, device: str, token: str = ""):
    """The trained encoder (`network="trained"`) or a random-weight one of the same spec, in eval mode
    and channels-last. Cached per process; `token` (the activations' fingerprint) changes when the
    encoder file does."""
    enc = load_encoder(run_url, device=device)
    if network != "trained":
        enc = enc.randomized(
            seed
        )  # conv nets: all weights drawn anew; K-means: new centroids, same whitening
    return enc.eval().to(memory_format=torch.channels_last)


def chunks(x: torch.Tensor) -> list[torch.Tensor]:
    """The preprocessed batch `x` as the channels-last pieces every forward pass here runs on: the
    probe and the query server split a batch the same way, so the same batch gives the same numbers."""
    n = CPU_CHUNK if x.device.type == "cpu" else max(len(x), 1)
    return [x[i : i + n].contiguous(memory_format=torch.channels_last) for i in range(0, len(x), n)]


def pool_units(feats: dict[str, torch.Tensor], layers: list[str], pool: str) -> torch.Tensor:
    """(N, units) float32: each channel of `layers` pooled over space (`max` or `mean`), layers concatenated."""
    cols = [
        f.amax(dim=(2, 3)) if pool == "max" else f.mean(dim=(2, 3))
        for f in (feats[k].float() for k in layers)
    ]
    return torch.cat(cols, dim=1)


def encode_batch(
    enc, x, layers: list[str], pool: str, embed: bool = False
) -> tuple[np.ndarray, list[int], np.ndarray | None]:
    """One forward pass over the preprocessed batch `x`: (N, units) float16 pooled responses of `layers`,
    the channel count of each layer, and with `embed` the (N, dim) float32 L2-normalised frame embeddings
    (the last layer pooled as the encoder pools it). Taking the embeddings from the same pass as the units
    saves the third forward pass the probe ran per frame (a third of its CPU)."""
    with torch.inference_mode():
        parts, embs = [], []
        for part in chunks(x):
            feats = enc.features(part)
            parts.append(pool_units(feats, layers, pool))
            if embed:
                embs.append(enc.pool(feats[enc.layer_names[-1]]).float().flatten(1))
        channels = [feats[k].shape[1] for k in layers]
        emb = torch.nn.functional.normalize(torch.cat(embs), dim=1).cpu().numpy() if embed else None
    return torch.cat(parts).cpu().numpy().astype(np.float16), channels, emb
