"""Ray job submission: run a `unitscope` command on a cluster, follow its logs, list and stop jobs.

Plain functions over `ray.job_submission.JobSubmissionClient`. The job's entrypoint is
`python -m unitscope SUBCOMMAND ...`: the unitscope installed on the cluster (its image), run inside the
uploaded working directory (the user's folder: configs, concept folders), with the given environment
variables. A `pipeline.py` or `train.py` of the user's in that folder never shadows a stage.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import socket
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TextIO
from urllib.parse import urlsplit

from unitscope.core import auth
from unitscope.core.errors import ConfigError
from unitscope.core.ray_runtime import ClusterError

if TYPE_CHECKING:
    from ray.job_submission import JobDetails, JobSubmissionClient

# Never uploaded with the working directory (Ray also honours the directory's .gitignore files).
DEFAULT_EXCLUDES = (
    ".git",
    ".venv",
    "venv",
    "__pycache__",
    "*.pyc",
    ".pytest_cache",
    ".ruff_cache",
    "*.egg-info",
)
ADDRESS_HINT = "the address is the head's dashboard URL, http://HEAD:8265 (not the GCS port 6379)"
TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")


def resolve_address(address: str | None) -> str:
    """The dashboard URL from `--address`, else $RAY_API_SERVER_ADDRESS, else an http $RAY_ADDRESS."""
    env_address = os.environ.get("RAY_ADDRESS", "")
    address = (
        address
        or os.environ.get("RAY_API_SERVER_ADDRESS")
        or (env_address if env_address.startswith(("http://", "https://")) else "")
    )
    if not address:
        raise ConfigError(f"no cluster given: pass --address http://HEAD:8265 ({ADDRESS_HINT})")
    if address.startswith("ray://"):
        raise ConfigError(f"--address {address} is a Ray Client address; {ADDRESS_HINT}")
    if "://" not in address:
        address = "http://" + address
    return address.rstrip("/")


def _probe(address: str, timeout: float) -> None:
    """Fail fast (instead of hanging in a TCP connect) when nothing listens at the address."""
    url = urlsplit(address)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=timeout).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ClusterError(
            f"cannot reach the Ray dashboard at {address} ({reason}): check that the head node is "
            f"running and reachable from here; {ADDRESS_HINT}"
        ) from exc


def connect(address: str | None, timeout: float = 10.0) -> JobSubmissionClient:
    """A job client for the cluster, presenting the token when there is one; clear errors otherwise."""
    from ray.exceptions import AuthenticationError
    from ray.job_submission import JobSubmissionClient

    address = resolve_address(address)
    _probe(address, timeout)
    token = auth.find_token()
    try:
        return JobSubmissionClient(address, headers=token.header() if token else None)
    except AuthenticationError as exc:
        missing = "Authentication required" in str(exc)  # Ray's text for HTTP 401 (403: wrong token)
        raise ClusterError(auth.rejection_message(address, missing, token)) from exc
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ClusterError(f"the Ray job API at {address} did not answer: {exc}; {ADDRESS_HINT}") from exc


def parse_env(items: Iterable[str]) -> dict[str, str]:
    """`K=V` pairs for the job's environment; a bare `K` copies K's value from this environment."""
    env: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not key or not key.replace("_", "a").isalnum() or key[0].isdigit():
            raise ConfigError(f"--env {item!r}: expected NAME=VALUE (or NAME to copy it from here)")
        if not sep:
            if key not in os.environ:
                raise ConfigError(f"--env {key}: {key} is not set in this environment; give {key}=VALUE")
            value = os.environ[key]
        env[key] = value
    return env


def runtime_env(working_dir: str | Path, env: Mapping[str, str], excludes: Iterable[str] = ()) -> dict:
    """The job's runtime env: the user's folder (uploaded) and environment variables."""
    path = Path(working_dir).expanduser().resolve()
    if not path.is_dir():
        raise ConfigError(f"--working-dir {working_dir}: no such directory; pass the folder to upload")
    return {
        "working_dir": str(path),
        "excludes": [*DEFAULT_EXCLUDES, *excludes],
        "env_vars": {"PYTHONUNBUFFERED": "1", **env},
    }


def entrypoint(argv: list[str]) -> str:
    """The shell command the cluster runs: the installed CLI, inside the uploaded working directory."""
    return "python -m unitscope " + shlex.join(argv)


def new_job_id(argv: list[str]) -> str:
    return f"unitscope-{argv[0]}-{uuid.uuid4().hex[:8]}"


def submit(
    client: JobSubmissionClient,
    argv: list[str],
    env: dict,
    entrypoint_cpus: float = 0,
    job_id: str | None = None,
) -> str:
    """Submit `unitscope ARGV...` and return its submission id (`unitscope-COMMAND-XXXXXXXX`).

    `entrypoint_cpus` reserves CPUs for the command's own process; Ray then may run it on any node
    with them free (without a reservation it runs on the head node). Submitting the same `job_id` again
    (a retry whose first answer was lost) returns it: the job exists once.
    """
    job_id = job_id or new_job_id(argv)
    try:
        return client.submit_job(
            entrypoint=entrypoint(argv),
            submission_id=job_id,
            runtime_env=env,
            metadata={"unitscope_command": argv[0]},
            entrypoint_num_cpus=entrypoint_cpus or None,
        )
    except RuntimeError as exc:
        if "already exists" in str(exc):
            return job_id
        raise


def details(client: JobSubmissionClient, job_id: str) -> JobDetails:
    try:
        return client.get_job_info(job_id)
    except RuntimeError as exc:
        raise ClusterError(
            f"no job {job_id!r} on this cluster ({exc}); `unitscope jobs list` shows them"
        ) from exc


def follow(client: JobSubmissionClient, job_id: str, out: TextIO) -> None:
    """Copy the job's logs to `out` as they come, until the job ends (KeyboardInterrupt passes through)."""

    async def tail() -> None:
        async for chunk in client.tail_job_logs(job_id):
            out.write(chunk)
            out.flush()

    try:
        asyncio.run(tail())
    except (RuntimeError, OSError) as exc:  # the websocket closed abnormally or the head went away
        raise ClusterError(
            f"lost the log stream of job {job_id}: {exc}; the job may still be running "
            f"(`unitscope jobs logs {job_id} --follow` resumes following it)"
        ) from exc


def wait(client: JobSubmissionClient, job_id: str, timeout: float = 60.0) -> JobDetails:
    """The job's details once it is in a terminal state (logs can close a moment before that)."""
    deadline = time.monotonic() + timeout
    while True:
        info = details(client, job_id)
        if str(info.status) in TERMINAL or time.monotonic() > deadline:
            return info
        time.sleep(0.5)


def exit_code(info: JobDetails) -> int:
    """The job's exit status: 0 on success, the driver's exit code on failure (1 if unknown)."""
    status = str(info.status)
    if status == "SUCCEEDED":
        return 0
    if status == "FAILED" and info.driver_exit_code:
        return int(info.driver_exit_code)
    return 1


def stop(client: JobSubmissionClient, job_id: str) -> bool:
    """Ask the cluster to stop the job; False when it had already ended."""
    details(client, job_id)
    return bool(client.stop_job(job_id))


def describe(info: JobDetails) -> str:
    """One line per job for `unitscope jobs list`."""
    started = (
        time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.start_time / 1000)) if info.start_time else "-"
    )
    return f"{info.submission_id or info.job_id}\t{info.status}\t{started}\t{info.entrypoint or ''}"
