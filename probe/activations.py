"""Batch inference over a dataset's shards: every unit's pooled response on every frame, on Ray.

The unit of work is a shard: `activate_shard(spec) -> ActivationResult` reads one WebDataset tar, runs the
trained encoder (and the random-weight control, on the same decoded frames) in batches, and commits
one chunk of the activation store. Ray tasks and the in-process loop share that function. A frame whose
JPEG cannot be decoded is skipped and counted; a shard that cannot be read is a failed row, not a
crash; committed chunks are skipped on a re-run.
"""

from __future__ import annotations

import io
import logging
import tarfile
import time
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, UnidentifiedImageError
from unitscope.pipeline import tar_reader
from unitscope.pipeline.shard_check import CheckedShard, ShardRecord
from unitscope.probe.encoders import default_device, encode_batch, open_encoder
from unitscope.probe.store import ActivationStore

from unitscope.core import heartbeat, task_loop

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EncodeSpec:
    """What to compute for a batch of images (small and picklable; encoders are built from it)."""

    run: str
    layers: tuple[str, ...]
    pool: str
    seed: int
    random_control: bool
    batch_size: int = 64
    device: str | None = None
    token: str = ""  # fingerprint of the encoder file: workers keep encoders cached under it


@dataclass(frozen=True)
class ActivationTask:
    encode: EncodeSpec
    shard: int
    url: str  # the shard's tar
    record: ShardRecord | None = None  # what the manifest says of it: size, checksum, frames


@dataclass
class ActivationResult:
    shard: int
    status: str  # ok / skipped (already committed; frames counts its rows) / failed
    frames: int = 0
    bad_frames: int = 0
    channels: list[int] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    damage: str | None = None  # how the shard differs from what ingest wrote (its frames read are used)


def read_shard(record: ShardRecord) -> tuple[list[tuple[str, bytes]], str | None]:
    """(key, JPEG bytes) of every `.jpg` member of a tar that could be read, streamed from any fsspec URL,
    and how the shard differs from its manifest row (None when it does not)."""
    check = CheckedShard(record)
    out: list[tuple[str, bytes]] = []
    with check.open() as f:
        try:
            for name, data in tar_reader.members(f):
                if name.endswith(".jpg"):
                    out.append((name[: -len(".jpg")].rsplit("/", 1)[-1], data))
        except (tarfile.TarError, EOFError, ValueError) as exc:
            check.failed(f"tar: {exc}")
        return out, check.finish(len(out))


def decode(data: bytes) -> Image.Image | None:
    """RGB image from JPEG (or any PIL format) bytes; None when it cannot be decoded."""
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
        return img.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None


def encode_images(spec: EncodeSpec, images: list[Image.Image]) -> tuple[dict[str, np.ndarray], list[int]]:
    """{"trained": (N, units) f16, "random": ..., "embeddings": (N, dim) f32} and channels per layer."""
    device = default_device(spec.device)
    nets = {"trained": open_encoder(spec.run, "trained", spec.seed, device, spec.token)}
    if spec.random_control:
        nets["random"] = open_encoder(spec.run, "random", spec.seed, device, spec.token)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in [*nets, "embeddings"]}
    channels: list[int] = []
    for i in range(0, len(images), spec.batch_size):
        x = nets["trained"].preprocess(images[i : i + spec.batch_size])
        for name, enc in nets.items():
            acts, channels, emb = encode_batch(enc, x, list(spec.layers), spec.pool, embed=name == "trained")
            parts[name].append(acts)
            if emb is not None:
                parts["embeddings"].append(emb)
    return {k: np.concatenate(v) for k, v in parts.items() if v}, channels


def activate_shard(spec: ActivationTask) -> ActivationResult:
    """Compute and commit the activation chunk of one shard (skipped when already committed)."""
    t0 = time.perf_counter()
    store = ActivationStore(spec.encode.run)
    if store.has_chunk(spec.shard) and store.intact(spec.shard):  # committed by an earlier probe
        return ActivationResult(spec.shard, "skipped", len(store.keys(spec.shard)))
    record = spec.record or ShardRecord(spec.url, spec.shard)
    try:
        members, damage = read_shard(record)
    except OSError as exc:
        return ActivationResult(
            spec.shard, "failed", bad_frames=record.frames or 0, error=f"cannot read {spec.url}: {exc}"
        )
    keys, images = [], []
    for key, data in members:
        img = decode(data)
        if img is not None:
            keys.append(key)
            images.append(img)
    bad = max(record.frames or 0, len(members)) - len(images)
    if bad and damage is None:
        damage = f"{bad} JPEG(s) do not decode"
    if not images:
        return ActivationResult(
            spec.shard, "failed", bad_frames=bad, error=f"{spec.url} holds no decodable frame", damage=damage
        )
    arrays, channels = encode_images(spec.encode, images)
    # a damaged shard's chunk serves this probe only: after ingest rebuilds the shard, it is computed again
    store.write_chunk(spec.shard, keys, arrays, complete=damage is None)
    seconds = time.perf_counter() - t0
    return ActivationResult(spec.shard, "ok", len(keys), bad, channels, seconds=seconds, damage=damage)


def summary(done: list[ActivationResult], total: int, seconds: float) -> str:
    """Shards done of `total`, how many were reused or failed, frames computed now and their rate."""
    reused = [s for s in done if s.status == "skipped"]
    failed = sum(s.status == "failed" for s in done)
    new = sum(s.frames for s in done if s.status == "ok")
    kept = f", {len(reused)} reused ({sum(s.frames for s in reused)} frames)" if reused else ""
    return (
        f"{len(done)}/{total} shards{kept}, {failed} failed; {new} frames computed, "
        f"{new / max(1e-9, seconds):.1f} frames/s"
    )


def compute(
    specs: list[ActivationTask], workers: int | None = None, use_ray: bool = True
) -> list[ActivationResult]:
    """Run `activate_shard` over `specs`: Ray tasks (at most `workers` in flight) or in this process."""
    if not use_ray:
        t0, beat, done = time.perf_counter(), heartbeat.Heartbeat("probe"), []
        for s in specs:
            beat.tick(lambda: f"activations: {len(done)} of {len(specs)} shards")
            done.append(activate_shard(s))
        log.info("activations: %s", summary(done, len(specs), time.perf_counter() - t0))
        return done
    import ray

    gpus = (
        1 if ray.cluster_resources().get("GPU", 0) >= 1 and specs and specs[0].encode.device != "cpu" else 0
    )
    task = ray.remote(num_cpus=1, num_gpus=gpus, max_retries=2)(activate_shard)
    limit = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    done: list[ActivationResult] = []
    t0 = time.perf_counter()
    for finished in task_loop.bounded(task.remote, specs, limit, idle_s=heartbeat.EVERY_S):
        if finished is None:  # a shard can take minutes on a slow CPU: say the stage is alive
            log.info("activations: %d of %d shards done, %d running (%.0f s)", len(done), len(specs),
                     min(limit, len(specs) - len(done)), time.perf_counter() - t0)  # fmt: skip
            continue
        spec, ref = finished
        try:
            done.append(ray.get(ref))
        except ray.exceptions.RayError as exc:  # the worker died or the code raised: record, go on
            done.append(ActivationResult(spec.shard, "failed", error=str(exc).strip().splitlines()[-1][:500]))
        log.info("activations: %s", summary(done, len(specs), time.perf_counter() - t0))
    return sorted(done, key=lambda s: s.shard)
