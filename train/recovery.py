"""What a Ray Train run does when workers die: Ray Train's failure settings, how a restarted worker group
continues from RUN's latest checkpoint, and the message (with the `--resume` command) when it gives up.

A dead worker or node fails the whole worker group (DDP cannot go on without a rank). Ray Train then starts
a new group, up to `max_failures` times, and each new attempt runs the same loop with the same config. A
fresh run never starts over a checkpoint (`train.run` refuses), so a checkpoint found in RUN by a later
attempt is this run's own: the attempt resumes from it (model, optimizer, scheduler, loader positions), and
`metrics.MetricsLog` drops the rows logged after it, so no step is missing or logged twice.
"""

from __future__ import annotations

import contextlib
import os
import shlex
from collections.abc import Iterator

from unitscope.train import checkpoint, metrics
from unitscope.train.config import TrainConfig

from unitscope.core.errors import UnitscopeError

# Read by Ray Train's controller (propagated from the driver's environment when `fit()` starts it).
START_TIMEOUT_ENV = "RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S"


class TrainingStopped(UnitscopeError):
    """Ray Train gave up: workers failed more than max_failures times, or their resources did not return."""


def failure_config(config: TrainConfig):
    """Ray Train's FailureConfig: `max_failures` restarts after worker deaths, and as many after failed
    starts of the worker group (a worker placed on a node that died while it started; Ray Train's default
    retries those forever). Preemptions announced by a draining node are Ray Train's own, unlimited budget."""
    import ray.train

    return ray.train.FailureConfig(
        max_failures=config.max_failures, controller_failure_limit=config.max_failures
    )


def end_on_user_error():
    """A Ray Train callback: a UnitscopeError raised in a worker (input that cannot train, found there)
    ends the run at once, as before restarts existed; a restarted group would only meet it again."""
    from ray.train import UserCallback

    class EndOnUserError(UserCallback):
        def after_exception(self, run_context, worker_exceptions: dict) -> None:
            for exc in worker_exceptions.values():
                user = next((e for e in chain(exc) if isinstance(e, UnitscopeError)), None)
                if user is not None:
                    raise user  # Ray Train ends the run on a callback's error (no retry)

    return EndOnUserError()


@contextlib.contextmanager
def start_timeout(config: TrainConfig) -> Iterator[None]:
    """Each start of the worker group waits `resource_wait_s` for its resources (Ray Train reads it from
    the driver's environment when `fit()` creates its controller)."""
    old = os.environ.get(START_TIMEOUT_ENV)
    os.environ[START_TIMEOUT_ENV] = str(config.resource_wait_s)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(START_TIMEOUT_ENV, None)
        else:
            os.environ[START_TIMEOUT_ENV] = old


def attempt_config(config: TrainConfig, launch_step: int | None, rank: int) -> TrainConfig:
    """The config one attempt of the worker group runs: when RUN holds a checkpoint newer than the one the
    run was launched from, an earlier attempt wrote it, and this restarted attempt resumes from it."""
    step = checkpoint.latest_step(config.run)
    if step == launch_step:
        return config  # the first attempt, or a restart before a new checkpoint: the same start again
    if rank == 0:
        metrics.note_restart(config.run, step)
    return config.model_copy(update={"resume": True})


def resume_command(config: TrainConfig) -> str:
    """The command that continues this run from its latest checkpoint."""
    argv = ["unitscope", "train", config.dataset, config.run, "--resume", "--objective", config.objective,
            "--arch", str(config.arch), "--steps", str(config.steps), "--batch-size", str(config.batch_size),
            "--workers", str(config.workers)]  # fmt: skip
    if config.address:
        argv += ["--address", config.address]
    return shlex.join(argv)


def chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and every exception it wraps: causes, contexts, Ray Train's controller and worker failures."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        stack += [
            e.__cause__,
            e.__context__,
            getattr(e, "controller_failure", None),
            getattr(e, "_base_exc", None),
        ]
        stack += list(getattr(e, "worker_failures", {}).values())


def stopped(config: TrainConfig, exc: BaseException) -> TrainingStopped:
    """The error that says why Ray Train gave up, where RUN stands, and how to continue it."""
    names = {type(e).__name__ for e in chain(exc)}
    if "WorkerGroupStartupTimeoutError" in names:
        why = (
            f"the {config.workers} training workers' resources were not free within resource_wait_s="
            f"{config.resource_wait_s:g}s (nodes of the cluster were lost and not replaced in time)"
        )
    else:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        why = f"the workers failed and max_failures={config.max_failures} restarts are used up ({first})"
    step = checkpoint.latest_step(config.run)
    if step is None:
        return TrainingStopped(
            f"training stopped: {why}. {config.run} has no checkpoint yet: once the cluster has the "
            "resources, run the same command again (it starts the run over)"
        )
    return TrainingStopped(
        f"training stopped: {why}. {config.run} holds the checkpoint at step {step}: once the cluster has "
        f"the resources, continue it with `{resume_command(config)}` (add the same --config FILE if you "
        "gave one)"
    )
