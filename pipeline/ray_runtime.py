"""Ray start-up: attach to the caller's Ray, a cluster (`--address` / $RAY_ADDRESS) or a fresh local one.

A module of its own so that what only needs Ray (training, probing) imports neither PyAV nor the ingest
executor: `unitscope train --workers 0` runs where Ray and PyAV are not installed (the GPU machine).

Ray's own output stays out of the command's: its driver-side messages go to `unitscope-driver.log` in the
session's log folder, and its workers' and internal actors' output (Ray Train's controller and placement
group cleaner, their tracebacks when another Ray runs on the machine) stays in that folder's worker files,
unless `-v` asks for all of it (issue 14: every Ray Train progress line came twice, among Ray's notices).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import tempfile

from pipeline.errors import ConfigError

log = logging.getLogger(__name__)
DRIVER_LOG = "unitscope-driver.log"
_verbose = False


def set_verbose(verbose: bool) -> None:
    """`-v`: let Ray print its own messages and its workers' output here, as Ray does by default."""
    global _verbose
    _verbose = verbose


def start(address: str, **kwargs) -> None:
    """`ray.init(address, **kwargs)` with Ray's own output kept in its log folder (unless verbose), and
    one line saying where that folder is. Messages of a failed start are printed, not filed."""
    import ray

    if _verbose:
        ray.init(address=address, log_to_driver=True, logging_level=logging.INFO, **kwargs)
        return
    ray_log = logging.getLogger("ray")
    held = logging.handlers.MemoryHandler(capacity=10_000, flushLevel=logging.CRITICAL + 1)
    ray_log.handlers = [held]  # start-up messages are held until the session's folder is known
    ray_log.propagate = False
    try:
        ray.init(address=address, log_to_driver=False, logging_level=logging.INFO, **kwargs)
    except BaseException:
        ray_log.handlers = [logging.StreamHandler(sys.stderr)]
        held.setTarget(ray_log.handlers[0])
        held.close()
        raise
    logs = logs_dir()
    path = os.path.join(logs, DRIVER_LOG)
    if not os.path.isdir(logs):  # the session's folder is on another machine (a cluster's head)
        path = os.path.join(tempfile.gettempdir(), f"unitscope-ray-driver-{os.getpid()}.log")
    target = logging.FileHandler(path)
    target.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    held.setTarget(target)
    held.flush()
    ray_log.handlers = [target]
    where = logs if path.startswith(logs) else f"{path} and the cluster's {logs}"
    log.info("Ray's own messages and its workers' output: %s (-v prints them here)", where)


def logs_dir() -> str:
    """The folder of this Ray session's log files (on the head node when attached to a cluster)."""
    try:
        import ray._private.worker as worker

        return worker._global_node.get_logs_dir_path()
    except AttributeError:  # Ray's private layout moved: the documented default location
        return "/tmp/ray/session_latest/logs"


def ensure_ray(address: str | None) -> bool:
    """Use the Ray the caller started, or start one: the given cluster, else a fresh local Ray. True when
    this call started or attached it (the caller then shuts it down)."""
    import ray

    if ray.is_initialized():
        return False
    address = cluster_address(address)
    try:
        start(address or "local", include_dashboard=False)
    except Exception as exc:  # ray raises ConnectionError, RuntimeError, ValueError...
        if not address:
            raise
        raise ConfigError(
            f"could not attach to the Ray cluster at {address!r}: {exc}; check the address and that the "
            "head is running, or drop --address/RAY_ADDRESS to run on local Ray"
        ) from exc
    return True


def cluster_address(address: str | None) -> str | None:
    """The cluster to attach to (`address`, else $RAY_ADDRESS); None means a local Ray."""
    return address or os.environ.get("RAY_ADDRESS") or None
