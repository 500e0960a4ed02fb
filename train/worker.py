"""The per-rank training loop: build the learner and the stream, resume, step, log, checkpoint, and (rank 0)
write the encoder. The same function runs in-process (`workers=0`) and in every Ray Train worker."""

from __future__ import annotations

import logging
import time

import torch
from unitscope.train import checkpoint, metrics, plot
from unitscope.train.config import TrainConfig
from unitscope.train.distributed import Dist
from unitscope.train.encoder import EncoderSpec, build_encoder
from unitscope.train.learner import Learner, build_objective
from unitscope.train.loop import make_optimizer, make_scheduler, train_step
from unitscope.train.model_io import save_encoder
from unitscope.train.objectives import registry
from unitscope.train.stream import StreamSpec, make_loader

from unitscope.core import memory, storage
from unitscope.core.errors import ConfigError, UnitscopeError

log = logging.getLogger(__name__)


def encoder_spec(config: TrainConfig) -> EncoderSpec:
    return EncoderSpec.create(config.arch, config.width, config.depth, config.input_size)


def _restore(
    config: TrainConfig, spec: EncoderSpec, dist: Dist, learner, optimizer, scheduler
) -> tuple[int, dict, int]:
    """Load the newest checkpoint; returns (step, this rank's loader positions, skipped so far)."""
    state = checkpoint.load_latest(config.run)
    saved = state["encoder_spec"]
    if saved != spec.model_dump(mode="json"):
        raise ConfigError(
            f"--resume: the checkpoint in {config.run} was trained with a different encoder "
            f"({saved['arch']}, width {saved['width']}, depth {saved['depth']}, input {saved['input_size']}); "
            "resume with the same --arch/width/depth/input_size, or start a new RUN"
        )
    learner.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    loader = state["loader"]
    if loader["world"] == dist.world and loader["loader_workers"] == config.loader_workers:
        mine = loader["ranks"][dist.rank]
        return (
            int(state["step"]),
            {int(w): int(p) for w, p in mine["positions"].items()},
            int(mine["skipped"]),
        )
    log.warning("worker layout changed since the checkpoint: the data stream restarts from a new seed")
    return int(state["step"]), {}, 0


def build_learner(config: TrainConfig, device: torch.device):
    """(encoder spec, learner on `device`, optimizer, scheduler) for a config, freshly initialised."""
    spec = encoder_spec(config)
    encoder = build_encoder(spec, seed=config.seed)
    learner = Learner(encoder, build_objective(config, encoder)).to(device)
    optimizer = make_optimizer(learner, config)
    return spec, learner, optimizer, make_scheduler(optimizer, config)


def stream_spec(config: TrainConfig, shard_urls: list[str], rank: int, world: int, seed: int) -> StreamSpec:
    pairs = registry.get(config.objective).needs_pairs
    return StreamSpec(
        shard_urls=tuple(shard_urls), rank=rank, world=world, batch=config.rank_batch,
        temporal=pairs, input_size=config.view_size,
        crop_scale_min=config.crop_scale_min, max_gap_s=config.pair_max_gap_s,
        shuffle_buffer=config.shuffle_buffer, seed=seed, group=config.video_group,
        motion_crops=config.motion_crops if pairs else 0.0,
    )  # fmt: skip


def train_worker(config: TrainConfig, shard_urls: list[str], dist: Dist) -> dict:
    memory.keep_freed_memory()
    spec, learner, optimizer, scheduler = build_learner(config, dist.device)
    start, positions, skipped = 0, {}, 0
    seed = config.seed
    if config.resume:
        start, positions, skipped = _restore(config, spec, dist, learner, optimizer, scheduler)
        seed = config.seed if positions or start == 0 else config.seed + start
    model = dist.wrap(learner, find_unused=not registry.get(config.objective).needs_pairs)
    stream = stream_spec(config, shard_urls, dist.rank, dist.world, seed)
    pin = dist.device.type == "cuda"
    batches = iter(
        make_loader(stream, config.loader_workers, skip=positions, pin=pin, nice=config.loader_nice)
    )
    lead = dist.rank == 0
    log_rows = (
        metrics.MetricsLog(config.run, keep_until=start, tensorboard=config.tensorboard) if lead else None
    )
    progress = metrics.Progress(config.steps, start)
    keys: list[str] = []
    row: dict = {}
    total_skipped = 0
    for step in range(start + 1, config.steps + 1):
        t0 = time.perf_counter()
        batch = _next_batch(batches)
        t_data = time.perf_counter() - t0
        positions[batch["worker"]] = batch["pos"]
        skipped += batch["skipped"] + batch["bad_samples"]
        terms = train_step(model, optimizer, scheduler, batch["views"], dist.device)
        dt = time.perf_counter() - t0
        images = sum(v.shape[0] for v in batch["views"]) * dist.world
        last = step == config.steps
        if step % config.log_every == 0 or last:  # every rank takes part in the gather
            total_skipped = sum(dist.gather(skipped))
        row = {"step": step, **terms, "lr": scheduler.get_last_lr()[0], "images_per_s": images / dt,
               "step_s": dt, "data_s": t_data, "skipped": total_skipped}  # fmt: skip
        if config.record_keys:
            keys += [f"{e} {k}\n" for e, k in zip(batch["epochs"], batch["keys"], strict=True)]
        if lead:
            log_rows.record(
                row, progress if config.workers == 0 else None, step % config.log_every == 0 or last
            )
        if step % config.checkpoint_every == 0 or last:
            _checkpoint(config, spec, dist, learner, optimizer, scheduler, step, positions, skipped)
    if config.record_keys:
        storage.write_text(storage.join(config.run, "keys", f"rank-{dist.rank}.txt"), "".join(keys))
    if lead:
        save_encoder(learner.encoder, config.run)
        log_rows.flush()
        log_rows.tb.close()
        plot.loss_curve(log_rows.rows, config.run, f"{config.objective} / {config.arch}")
    return {"step": config.steps, "start_step": start, "loss": row.get("loss"), "skipped": total_skipped}


def _next_batch(batches) -> dict:
    """The next batch; a UnitscopeError from a loader worker comes back without the traceback text that
    the DataLoader folds into its message."""
    try:
        return next(batches)
    except UnitscopeError as exc:
        last = str(exc).strip().splitlines()[-1]
        raise type(exc)(last.split(": ", 1)[-1] if "Error: " in last else last) from None


def _checkpoint(config, spec, dist, learner, optimizer, scheduler, step, positions, skipped) -> None:
    ranks = dist.gather({"positions": positions, "skipped": skipped})
    if dist.rank != 0:
        return
    state = {
        "step": step,
        "model": learner.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "loader": {"world": dist.world, "loader_workers": config.loader_workers, "ranks": ranks},
        "config": config.model_dump(mode="json"),
        "encoder_spec": spec.model_dump(mode="json"),
    }
    checkpoint.save(config.run, state, keep=config.keep_checkpoints)
    log.info("checkpoint at step %d", step)
