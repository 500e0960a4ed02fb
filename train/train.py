"""The train stage's entry point: `run(TrainConfig) -> TrainResult`."""

from __future__ import annotations

import json
import time
from typing import Literal

from pydantic import BaseModel
from unitscope.pipeline.schema import DATASET_JSON
from unitscope.train import checkpoint, distributed, metrics, profiles
from unitscope.train.config import TrainConfig
from unitscope.train.model_io import ENCODER_WEIGHTS
from unitscope.train.objectives import registry
from unitscope.train.shards import count_frames, list_records, size_damage
from unitscope.train.worker import train_worker

from unitscope.core import storage
from unitscope.core.errors import ConfigError, InputError

CONFIG_FILE = "config.json"


class TrainResult(BaseModel):
    run: str
    encoder: str
    steps: int
    start_step: int
    final_loss: float
    images_per_s: float
    skipped_frames: int
    seconds: float


def absolute_paths(config: TrainConfig) -> TrainConfig:
    """`config` with local paths made absolute here, in the driver: Ray Train runs its workers in a
    folder of Ray's session, where a relative path names nothing."""
    return config.model_copy(
        update={
            "dataset": storage.absolute(config.dataset),
            "run": storage.absolute(config.run),
            "tensorboard": config.tensorboard and storage.absolute(config.tensorboard),
        }
    )


def check_inputs(config: TrainConfig) -> tuple[list, int | None]:
    """The dataset's shard URLs and the run's last checkpoint step; a clear error (before Ray starts or
    anything is written) when the dataset, the batch size or --resume do not fit."""
    profiles.check_available(config.profile, config.address, config.use_gpu)
    shard_urls = list_records(config.dataset)
    size_damage(config.dataset, config.max_bad_frames)  # fails here, before Ray, above the threshold
    frames = count_frames(config.dataset)
    if frames < config.batch_size and registry.get(config.objective).fit is None:  # a fit takes no batches
        raise ConfigError(
            f"batch_size {config.batch_size} is larger than the {frames} frames of {config.dataset}: "
            "lower --batch-size or ingest more video"
        )
    done = checkpoint.latest_step(config.run)
    if config.resume and done is None:
        raise InputError(
            f"--resume: {config.run} has no checkpoint to continue from; start it without --resume"
        )
    if not config.resume and done is not None:
        raise ConfigError(
            f"{config.run} already holds a run (checkpoint at step {done}): pass --resume to continue it, "
            "or choose a new RUN directory"
        )
    if config.resume and done >= config.steps:
        raise ConfigError(
            f"--resume: {config.run} is already at step {done} of {config.steps}; raise --steps"
        )
    if config.resume:
        checkpoint.load_latest(config.run)  # a damaged checkpoint fails here, before Ray or any write
    return shard_urls, done


def earlier(config: TrainConfig) -> Literal["finished", "cut short"] | None:
    """What RUN holds from a run with these same settings (its config.json equal but for `resume`):
    "finished" (its encoder written), "cut short" (a checkpoint before the last step: resume it), or None
    (nothing, another run's output, a run older than the dataset, or one stopped before its first checkpoint)."""
    config = absolute_paths(config)
    path = storage.join(config.run, CONFIG_FILE)
    try:
        stored = json.loads(storage.read_bytes(path)) if storage.exists(path) else None
    except ValueError:  # damaged: not a run these settings made
        return None
    now = json.loads(config.model_dump_json())
    if stored is None or {**stored, "resume": None} != {**now, "resume": None}:
        return None
    if _written_after(storage.join(config.dataset, DATASET_JSON), path):  # it learned from other frames
        return None
    if storage.exists(storage.join(config.run, ENCODER_WEIGHTS)):
        return "finished"
    step = checkpoint.latest_step(config.run)
    return "cut short" if step is not None and step < config.steps else None


def _written_after(url: str, than: str) -> bool:
    """Whether `url` was modified after `than` (True when either time cannot be read)."""
    try:
        fs, a = storage.url_to_fs(url)
        fs_b, b = storage.url_to_fs(than)
        return fs.modified(a) > fs_b.modified(b)
    except (OSError, NotImplementedError, TypeError):
        return True


def run(config: TrainConfig) -> TrainResult:
    t0 = time.monotonic()
    config = absolute_paths(config)
    shard_urls, done = check_inputs(config)
    storage.write_text(storage.join(config.run, CONFIG_FILE), config.model_dump_json(indent=2))
    metrics.MetricsLog(config.run, keep_until=done or 0)  # drop rows past the checkpoint before anyone reads
    fit = registry.fit_function(registry.get(config.objective))
    summary = distributed.launch(config, shard_urls, fit or train_worker)
    rows = metrics.read(config.run)
    tail = rows[len(rows) // 2 :]
    return TrainResult(
        run=config.run,
        encoder=storage.join(config.run, ENCODER_WEIGHTS),
        steps=config.steps,
        start_step=done or 0,
        final_loss=rows[-1]["loss"] if rows else summary.get("loss"),
        images_per_s=sum(r.get("images_per_s", 0.0) for r in tail) / max(len(tail), 1),
        skipped_frames=int(rows[-1]["skipped"]) if rows else int(summary.get("skipped", 0)),
        seconds=time.monotonic() - t0,
    )
