"""Helpers for tests: free ports and running the CLI from this checkout in a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SHARED_VIDEOS = SHARED / "data" / "videos"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli_env(**extra: str) -> dict[str, str]:
    """Environment for running the CLI from this checkout in a subprocess."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def run_cli(
    *args: str, timeout: float = 600, check: bool = False, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess:
    """Run `unitscope ARGS...` from this checkout in a fresh process (in `cwd`, default the checkout)
    and capture its output."""
    proc = subprocess.run(
        [sys.executable, "-m", "infra", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(**env),
        cwd=cwd or ROOT,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"unitscope {' '.join(map(str, args))} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc
