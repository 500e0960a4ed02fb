"""Shared fixtures: one local Ray runtime per session, a real S3-compatible server, the CLI, shared data."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import SHARED_VIDEOS, free_port


@pytest.fixture(scope="session")
def shared_videos() -> Path:
    """The real clips in ../shared/data/videos; tests that use them skip where it is absent."""
    if not SHARED_VIDEOS.is_dir():
        pytest.skip("../shared/data/videos is absent")
    return SHARED_VIDEOS


@pytest.fixture(scope="session")
def s3_server():
    """A real S3-compatible server (moto in server mode, its own process) on loopback.

    Sets credentials and FSSPEC_S3_ENDPOINT_URL in this process' environment, so fsspec's s3://
    reaches it; Ray started after this fixture passes the same variables to its workers.
    """
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("moto server did not start") from None
            time.sleep(0.2)
    env = {
        "AWS_ACCESS_KEY_ID": "unitscope-test",
        "AWS_SECRET_ACCESS_KEY": "unitscope-test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "FSSPEC_S3_ENDPOINT_URL": endpoint,
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    # fsspec reads FSSPEC_* variables once, at import: load them again so this process sees the endpoint.
    import fsspec.config

    fsspec.config.set_conf_env(fsspec.config.conf)
    try:
        yield endpoint
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def ray_local(s3_server):
    """One local Ray runtime shared by every test that needs Ray (started after the S3 server, so
    its workers inherit the server's endpoint and credentials)."""
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
