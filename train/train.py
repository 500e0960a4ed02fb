"""The train stage's entry point: `run(TrainConfig) -> TrainResult`."""

from __future__ import annotations

import time

from pydantic import BaseModel
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
