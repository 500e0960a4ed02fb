"""Ray start-up: attach to the caller's Ray, a cluster (`--address` / $RAY_ADDRESS) or a fresh local one.

A module of its own so that what only needs Ray (training, probing) imports neither PyAV nor the ingest
executor: `unitscope train --workers 0` runs where Ray and PyAV are not installed (the GPU machine)."""

from __future__ import annotations

import logging
import os

from pipeline.errors import ConfigError


def ensure_ray(address: str | None) -> bool:
    """Use the Ray the caller started, or start one: the given cluster, else a fresh local Ray. True when
    this call started or attached it (the caller then shuts it down)."""
    import ray

    if ray.is_initialized():
        return False
    address = cluster_address(address)
    try:
        ray.init(address=address or "local", include_dashboard=False, logging_level=logging.WARNING)
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
