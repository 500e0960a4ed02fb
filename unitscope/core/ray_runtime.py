"""Ray start-up, the one place for it: attach to the caller's Ray, a cluster (`--address` / $RAY_ADDRESS,
with the cluster's token) or a fresh local one, with one error text for an address that does not answer.

Imports neither PyAV nor the ingest executor, so `unitscope train --workers 0` runs where Ray and PyAV are
not installed (the GPU machine).

Ray's own output stays out of the command's: its driver-side messages go to `unitscope-driver.log` in the
session's log folder, and its workers' and internal actors' output (Ray Train's controller and placement
group cleaner) stays in that folder's worker files, unless `-v` asks for all of it: otherwise every Ray
Train progress line came twice, among Ray's notices.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import tempfile

from unitscope.core import auth
from unitscope.core.errors import UnitscopeError

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
    _file_task_errors(ray_log)
    where = logs if path.startswith(logs) else f"{path} and the cluster's {logs}"
    log.info("Ray's own messages and its workers' output: %s (-v prints them here)", where)


def _file_task_errors(ray_log: logging.Logger) -> None:
    """Send the task errors Ray's driver prints by itself ("(raylet) Task ... failed. There are N retries
    remaining", with the task's whole traceback, ~40 lines a retry) to Ray's driver log like its other
    messages: the stages print one line per failure themselves."""
    import ray._private.worker as worker

    printer = worker.print_to_stdstream

    def to_log(data, ignore_prefix: bool = False) -> None:
        if data.get("pid") == "raylet":
            for line in data.get("lines", []):
                ray_log.warning("%s", line)
        else:
            printer(data, ignore_prefix)

    if getattr(printer, "__name__", "") != "to_log":
        worker.print_to_stdstream = to_log


def logs_dir() -> str:
    """The folder of this Ray session's log files (on the head node when attached to a cluster)."""
    try:
        import ray._private.worker as worker

        return worker._global_node.get_logs_dir_path()
    except AttributeError:  # Ray's private layout moved: the documented default location
        return "/tmp/ray/session_latest/logs"


class ClusterError(UnitscopeError):
    """The Ray cluster cannot be reached, or refuses this client."""


def prepare_cluster_auth(address: str | None) -> auth.Token | None:
    """When this process will attach to a cluster (`address` or RAY_ADDRESS), present the cluster token.

    The CLI calls it before any stage runs, so every `ray.init(address=...)` gets token authentication
    too; without an address it does nothing (local Ray makes its own token).
    """
    if cluster_address(address):
        return auth.enable_for_driver()
    return None


def ensure_ray(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Use the Ray this process already runs, or start one: the given cluster (`address`, else
    $RAY_ADDRESS), else a fresh local Ray, never silently some other cluster on this machine. True when
    this call started or attached it (the caller then shuts it down)."""
    import ray

    if ray.is_initialized():
        return False
    address = cluster_address(address)
    if not address:
        start("local", num_cpus=num_cpus, include_dashboard=False)
        return True
    token = prepare_cluster_auth(address)
    try:
        start(address)
    except Exception as exc:  # ray raises ConnectionError, RuntimeError, ValueError...
        sent = f"the token from {token.source} was sent" if token else "no token was sent"
        raise ClusterError(
            f"could not attach to the Ray cluster at {address!r}: {exc}. Check the address "
            "(HOST:6379, the head's GCS port, or ray://HOST:10001), that the head is running, and, "
            f"if the cluster uses token authentication, its token ({sent}): {auth.HOW_TO_SET}; "
            "or drop --address/RAY_ADDRESS to run on local Ray"
        ) from exc
    return True


def cluster_address(address: str | None) -> str | None:
    """The cluster to attach to (`address`, else $RAY_ADDRESS); None means a local Ray."""
    return address or os.environ.get("RAY_ADDRESS") or None
