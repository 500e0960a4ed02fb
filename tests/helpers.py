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
        [sys.executable, "-m", "unitscope", *map(str, args)],
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


def peak_rss_growth(setup: str, code: str, timeout: float = 300) -> int:
    """Bytes by which a fresh Python process' peak resident size grows while it runs `code`, after `setup`
    (imports, test data), which does not count: the kernel's high-water mark (VmHWM) is reset between the
    two through /proc/self/clear_refs (Linux), so Arrow's and NumPy's memory counts, not only Python's."""
    script = (
        f"{setup}\n"
        "def _kb(field):\n"
        "    return next(int(x.split()[1]) for x in open('/proc/self/status') if x.startswith(field))\n"
        "open('/proc/self/clear_refs', 'w').write('5')\n"
        "_before = _kb('VmRSS:')\n"
        f"{code}\n"
        "print('PEAK', (_kb('VmHWM:') - _before) * 1024)\n"
    )
    return _measure(script, timeout)


def peak_allocated(setup: str, code: str, timeout: float = 300) -> int:
    """Peak bytes that `code` holds at once in a fresh Python process, after `setup`: Python objects and
    NumPy arrays (tracemalloc) plus Arrow buffers (its memory pool's high-water mark, so keep Arrow out of
    `setup`). Unlike the resident size, it does not move with the allocators' caching or loaded code."""
    script = (
        f"import tracemalloc\nimport pyarrow as _pa\n{setup}\n"
        "_arrow = _pa.default_memory_pool().max_memory()\n"
        "tracemalloc.start()\n"
        f"{code}\n"
        "_python = tracemalloc.get_traced_memory()[1]\n"
        "print('PEAK', _python + max(0, _pa.default_memory_pool().max_memory() - _arrow))\n"
    )
    return _measure(script, timeout)


def _measure(script: str, timeout: float) -> int:
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(),
        cwd=ROOT,
    )
    if proc.returncode:
        raise AssertionError(f"the measured code failed:\n{proc.stderr}")
    return int(proc.stdout.rsplit("PEAK", 1)[1])
