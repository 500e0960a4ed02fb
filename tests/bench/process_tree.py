"""Peak resident memory and CPU time of a process and every process under it, sampled from /proc (Linux).

A local Ray started by a command runs under it (GCS, raylet, agents, and the raylet's workers), and so do
FFmpeg's processes and DataLoader workers, so one root covers a whole stage. Each process' peak is the
kernel's own high-water mark (VmHWM), read until the process ends; CPU is user + system time at the last
sample. A process that lives less than one interval may be missed.
"""

from __future__ import annotations

import os
import threading
from collections import defaultdict
from dataclasses import dataclass

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
RAY_DAEMONS = ("dashboard", "agent", "log_monitor", "monitor.py", "runtime_env")


@dataclass
class Seen:
    pid: int
    ppid: int
    cmd: str
    peak_kb: int = 0
    cpu_s: float = 0.0


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a live process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


def _peak_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            return next((int(line.split()[1]) for line in f if line.startswith("VmHWM:")), 0)
    except OSError:
        return 0


def _cmd(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def role(cmd: str, parent_cmd: str | None) -> str:
    """What a process is, from its command line: a forked copy of its parent (a DataLoader worker) is
    'child of' the parent's role."""
    if parent_cmd is not None and cmd == parent_cmd:
        return "child of " + role(parent_cmd, None)
    name = cmd.split(" ", 1)[0].rsplit("/", 1)[-1]
    if cmd.startswith("ray::") or "/ray/_private/workers/" in cmd:
        return "ray worker"
    if name in ("gcs_server", "raylet", "ffmpeg"):
        return {"gcs_server": "ray gcs", "raylet": "ray raylet", "ffmpeg": "ffmpeg"}[name]
    if "/ray/" in cmd and any(d in cmd for d in RAY_DAEMONS):
        return "ray daemon"
    return "other"


class ProcessTree:
    """Samples the tree under `root` every `interval` seconds from a thread until `stop()`."""

    def __init__(self, root: int, interval: float = 0.25):
        self.root = root
        self.interval = interval
        self.seen: dict[int, Seen] = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="process-tree", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        parents: dict[int, tuple[int, float]] = {}
        for name in os.listdir("/proc"):
            if name.isdigit() and (st := _stat(int(name))) is not None:
                parents[int(name)] = st
        inside = {self.root}
        grew = True
        while grew:  # descendants of the root, level by level
            new = {p for p, (pp, _) in parents.items() if pp in inside and p not in inside}
            inside |= new
            grew = bool(new)
        for pid in inside & parents.keys():
            ppid, cpu = parents[pid]
            s = self.seen.get(pid)
            if s is None:
                s = self.seen[pid] = Seen(pid, ppid, _cmd(pid))
            s.peak_kb = max(s.peak_kb, _peak_kb(pid))
            s.cpu_s = max(s.cpu_s, cpu)

    def stop(self) -> dict[str, dict]:
        """Per role: processes seen, the largest peak RSS of any one of them (MB), and their CPU seconds."""
        self._done.set()
        self._thread.join()
        self.sample()
        out: dict[str, dict] = defaultdict(lambda: {"processes": 0, "peak_rss_mb": 0.0, "cpu_s": 0.0})
        for s in self.seen.values():
            parent = self.seen.get(s.ppid)
            r = "driver" if s.pid == self.root else role(s.cmd, parent.cmd if parent else None)
            out[r]["processes"] += 1
            out[r]["peak_rss_mb"] = max(out[r]["peak_rss_mb"], round(s.peak_kb / 1024, 1))
            out[r]["cpu_s"] = round(out[r]["cpu_s"] + s.cpu_s, 2)
        return dict(out)
