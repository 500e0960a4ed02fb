"""When Ray Train gives up on a run, the error says why, where RUN stands and the command that continues it:
a worker killed with max_failures=0, and workers whose resources never come (local Ray, 2 CPUs)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest
from unitscope.train import checkpoint
from unitscope.train.config import TrainConfig
from unitscope.train.recovery import TrainingStopped
from unitscope.train.train import run

from tests.train.conftest import TINY
from tests.train.datasets import make_dataset
from unitscope.core.errors import InputError

pytestmark = pytest.mark.slow


def test_workers_whose_resources_never_come_stop_with_the_resume_command(ray_local, dataset, tmp_path):
    path = str(tmp_path / "run")
    run(TrainConfig(dataset=str(dataset), run=path, workers=0, steps=4, checkpoint_every=2, **TINY))
    # Four workers of one CPU each never fit on two CPUs: each start gives up after resource_wait_s.
    more = TrainConfig(dataset=str(dataset), run=path, workers=4, steps=8, resume=True, max_failures=1,
                       resource_wait_s=1, **TINY)  # fmt: skip
    t0 = time.monotonic()
    with pytest.raises(TrainingStopped) as err:
        run(more)
    message = str(err.value)
    assert "resources were not free within resource_wait_s=1s" in message
    assert "checkpoint at step 4" in message
    assert f"unitscope train {dataset} {path} --resume" in message and "--steps 8 " in message
    assert time.monotonic() - t0 < 60
    assert checkpoint.latest_step(path) == 4  # nothing was lost


def test_a_killed_worker_with_no_restarts_left_names_the_checkpoint(ray_local, dataset, tmp_path):
    from ray._private.state import actors  # the GCS actor table (this local Ray runs no dashboard)

    path = str(tmp_path / "run")
    cfg = TrainConfig(dataset=str(dataset), run=path, workers=1, steps=2000, checkpoint_every=10, max_failures=0,
                      **{**TINY, "log_every": 10})  # fmt: skip
    killed: list[int] = []

    def kill_once_checkpointed() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            alive = [a["Pid"] for a in actors(actor_state_name="ALIVE").values()
                     if a["ActorClassName"].endswith("RayTrainWorker")]  # fmt: skip
            if alive and (checkpoint.latest_step(path) or 0) >= 10:
                os.kill(alive[0], signal.SIGKILL)
                killed.append(alive[0])
            time.sleep(0.1)

    watcher = threading.Thread(target=kill_once_checkpointed, daemon=True)
    watcher.start()
    with pytest.raises(TrainingStopped) as err:
        run(cfg)
    watcher.join()
    assert killed
    step = checkpoint.latest_step(path)
    assert 10 <= step < cfg.steps
    message = str(err.value)
    assert "max_failures=0 restarts are used up" in message and f"checkpoint at step {step}" in message
    assert "--resume" in message
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, len(rows) + 1))


def test_a_user_error_in_a_worker_ends_the_run_without_restarts(ray_local, tmp_path):
    from ray._private.state import actors

    def train_workers() -> int:
        return sum(a["ActorClassName"].endswith("RayTrainWorker") for a in actors().values())

    ds = make_dataset(tmp_path, [2], shard_frames=10)
    cfg = TrainConfig(dataset=str(ds), run=str(tmp_path / "run"), workers=1, steps=3, batch_size=2,
                      loader_workers=2, width=4, input_size=32, max_failures=3)  # fmt: skip
    before = train_workers()
    with pytest.raises(InputError, match="read no usable frames"):
        run(cfg)
    assert train_workers() - before == 1  # one worker group, never restarted
