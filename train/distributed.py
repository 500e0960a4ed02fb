"""Where distribution happens, and the only place: Ray Train's TorchTrainer (gloo on CPU, nccl on GPU)
runs the per-rank loop on N workers and DDP wraps the single-device model; `workers=0` runs the same
loop in this process without Ray."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from unitscope.train import checkpoint, metrics, recovery
from unitscope.train.config import TrainConfig

from unitscope.core.errors import UnitscopeError
from unitscope.core.ray_runtime import ensure_ray

log = logging.getLogger(__name__)


@dataclass
class Dist:
    """This process' place in the job."""

    rank: int
    world: int
    device: torch.device

    def wrap(self, model: nn.Module, find_unused: bool = False) -> nn.Module:
        if self.world == 1:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=find_unused)

    def gather(self, obj: Any) -> list[Any]:
        """`obj` from every rank, in rank order."""
        if self.world == 1:
            return [obj]
        out: list[Any] = [None] * self.world
        torch.distributed.all_gather_object(out, obj)
        return out


def want_gpu(config: TrainConfig) -> bool:
    if config.use_gpu is not None:
        return config.use_gpu
    if config.workers == 0:
        return torch.cuda.is_available()
    import ray

    return ray.cluster_resources().get("GPU", 0) >= config.workers


WorkerFn = Callable[[TrainConfig, list[str], Dist], dict]


def launch(config: TrainConfig, shard_urls: list[str], fn: WorkerFn) -> dict:
    """Run `fn(config, shard_urls, dist)` on every rank; returns rank 0's summary."""
    if config.workers == 0:
        gpu = want_gpu(config)
        device = torch.device("cuda" if gpu else "cpu")
        return fn(config, shard_urls, Dist(0, 1, device))

    import ray
    import ray.train
    from ray.train.torch import TorchConfig, TorchTrainer

    ensure_ray(config.address)  # the given cluster, else local Ray, once the inputs were checked
    gpu = want_gpu(config)
    # Ray Train's storage_path holds only its bookkeeping here (a .validate_storage_marker written by this
    # driver, and its controller's snapshot of reported checkpoints, of which there are none): checkpoints,
    # metrics and the encoder go to RUN, and workers never write to storage_path, while the controller runs
    # on this driver's node (Ray Train pins it there). So a directory on this node is enough on any cluster.
    scratch = tempfile.mkdtemp(prefix="unitscope-ray-train-")
    loop = {"config": config.model_dump(), "shards": shard_urls, "fn": fn,
            "launch_step": checkpoint.latest_step(config.run)}  # fmt: skip
    trainer = TorchTrainer(
        _ray_worker,
        train_loop_config=loop,
        torch_config=TorchConfig(backend="nccl" if gpu else "gloo"),
        scaling_config=ray.train.ScalingConfig(num_workers=config.workers, use_gpu=gpu),
        run_config=ray.train.RunConfig(
            name=f"unitscope-train-{os.getpid()}",
            storage_path=scratch,
            failure_config=recovery.failure_config(config),
            callbacks=[recovery.end_on_user_error()],
        ),
    )
    start = (checkpoint.latest_step(config.run) or 0) if config.resume else 0
    try:
        with (
            metrics.Follower(config.run, config.steps, start, config.log_every),
            recovery.start_timeout(config),
        ):
            result = trainer.fit()
    except Exception as exc:
        user = _user_error(exc)
        if user is not None:
            raise user from exc
        if isinstance(exc, ray.train.TrainingFailedError):
            raise recovery.stopped(config, exc) from exc
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return dict(result.metrics or {})


def _ray_worker(loop_config: dict) -> None:
    import ray.train
    import ray.train.torch

    ctx = ray.train.get_context()
    dist = Dist(ctx.get_world_rank(), ctx.get_world_size(), ray.train.torch.get_device())
    config = TrainConfig.model_validate(loop_config["config"])
    config = recovery.attempt_config(config, loop_config["launch_step"], dist.rank)
    summary = loop_config["fn"](config, loop_config["shards"], dist)
    ray.train.report(summary)


def _user_error(exc: BaseException) -> UnitscopeError | None:
    """The UnitscopeError a worker raised, found in what Ray wraps it in (so the CLI prints it plainly)."""
    return next((e for e in recovery.chain(exc) if isinstance(e, UnitscopeError)), None)
