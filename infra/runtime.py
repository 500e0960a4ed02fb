"""The Ray runtime: attach to a cluster (`--address` / `RAY_ADDRESS`) or start Ray on this machine."""

from __future__ import annotations

import logging
import os

from infra import auth
from pipeline import ray_runtime
from pipeline.errors import UnitscopeError

log = logging.getLogger(__name__)


class ClusterError(UnitscopeError):
    """The Ray cluster cannot be reached, or refuses this client."""


def prepare_cluster_auth(address: str | None) -> auth.Token | None:
    """When this process will attach to a cluster (`address` or RAY_ADDRESS), present the cluster token.

    The CLI calls it before any stage runs, so stages that call `ray.init(address=...)` themselves get
    token authentication too; without an address it does nothing (local Ray makes its own token).
    """
    if address or os.environ.get("RAY_ADDRESS"):
        return auth.enable_for_driver()
    return None


def init_ray(address: str | None = None, num_cpus: int | None = None) -> str:
    """Start or attach to Ray once per process and return a description of where it runs.

    `address` (or the RAY_ADDRESS environment variable) attaches to a running cluster; without one a
    fresh local Ray is started (never silently attaching to some other cluster on this machine).
    """
    import ray

    if ray.is_initialized():
        return "ray (already initialised)"
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        token = prepare_cluster_auth(address)
        try:
            ray_runtime.start(address)
        except Exception as exc:  # ray raises ConnectionError, RuntimeError, ValueError...
            sent = f"the token from {token.source} was sent" if token else "no token was sent"
            raise ClusterError(
                f"could not attach to the Ray cluster at {address!r}: {exc}. Check the address "
                "(HOST:6379, the head's GCS port, or ray://HOST:10001), that the head is running, and, "
                f"if the cluster uses token authentication, its token ({sent}): {auth.HOW_TO_SET}"
            ) from exc
        return f"ray cluster at {address}"
    ray_runtime.start("local", num_cpus=num_cpus, include_dashboard=False)
    return "local ray"
