"""A real multi-node Ray cluster on this machine for tests: `ray start --head` plus worker nodes.

Each node is a `ray start --block` process in its own session, with its own ports and temp dir (or, with
`shared_temp_dir`, one temp dir for all nodes, as two plain `ray start` on one host share /tmp/ray), token
authentication on, and an environment without this process' RAY_*/AWS_*/FSSPEC_* variables (so what a
job sees comes from its runtime env). Nodes are stopped by their own process ids: SIGTERM to each
node's process group, then SIGKILL to whatever is left of its session (Ray workers run in process groups
of their own there); `kill_node` SIGKILLs one node's whole session at once (a lost machine). Never `ray stop`, which would stop every Ray on the machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.helpers import free_port

RAY = str(Path(sys.executable).with_name("ray"))
STRIPPED = ("RAY_", "AWS_", "FSSPEC_", "PYTHONPATH")
TAG = "unitscope_test_"  # + node name: a custom resource that tells the worker nodes apart


class LocalCluster:
    def __init__(self, token: str | None = None, shared_temp_dir: bool = False):
        # Short root: Ray's Unix socket paths live under the temp dir and must stay < 108 bytes.
        self.root = Path(tempfile.mkdtemp(prefix="usc-", dir="/tmp"))
        self.token = token or secrets.token_hex(16)
        self.gcs_port = free_port()
        self.dashboard_port = free_port()
        self.shared_temp_dir = shared_temp_dir
        self.nodes: list[subprocess.Popen] = []
        self.killed: list[subprocess.Popen] = []  # nodes ended by kill_node (their groups, by id, at stop)
        self._started = 0
        self.named: dict[str, subprocess.Popen] = {}  # worker nodes by name (node1, node2, ...)
        self.node_args: dict[str, list[str]] = {}
        self.restarted: set[str] = set()
        self.names: dict[str, str] = {}  # Ray node id -> worker node name, as seen by wait_workers

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    def node_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(STRIPPED)}
        env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=self.token, PYTHONUNBUFFERED="1")
        # Task events reach the state API within 0.1 s (default 1 s), so a test sees where work is now; a
        # killed node is declared dead after 3 missed 1 s health checks (default 5 of 3 s).
        env.update(RAY_task_events_report_interval_ms="100", RAY_health_check_period_ms="1000",
                   RAY_health_check_failure_threshold="3")  # fmt: skip
        # The job entrypoint's `python` is this interpreter (its environment has ray and the deps).
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
        return env

    def client_env(self, token: str | None = "") -> dict[str, str]:
        """Environment for a CLI client: the cluster's token, another `token`, or none (None).

        HOME points into the cluster's root so that no ~/.ray/auth_token of this machine is used.
        """
        return {"RAY_AUTH_TOKEN": self.token if token == "" else (token or ""), "HOME": str(self.root)}

    def _start(self, name: str, args: list[str]) -> None:
        log = open(self.root / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        cmd = [
            RAY, "start", "--block", "--disable-usage-stats",
            "--temp-dir", str(self.root / ("ray" if self.shared_temp_dir else name)),
            "--object-store-memory", str(80 * 2**20),
            "--dashboard-agent-listen-port", str(free_port()),
            "--metrics-export-port", str(free_port()),
            *args,
        ]  # fmt: skip
        proc = subprocess.Popen(
            cmd, env=self.node_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.nodes.append(proc)

    def start_head(self, num_cpus: int, resources: dict | None = None, wait: bool = True) -> None:
        self._start(
            "head",
            [
                "--head", "--port", str(self.gcs_port),
                "--dashboard-host", "127.0.0.1", "--dashboard-port", str(self.dashboard_port),
                "--ray-client-server-port", str(free_port()),
                "--num-cpus", str(num_cpus), "--resources", json.dumps(resources or {}),
            ],
        )  # fmt: skip
        if wait:
            self._wait(lambda: self._get("/api/gcs_healthz") is not None and self.alive_nodes(), "head node")

    def add_node(self, num_cpus: int, resources: dict | None = None, wait: bool = True) -> str | None:
        """Start a worker node; returns its Ray node id once the head lists it alive (None with `wait=False`:
        `wait_workers` waits for it later)."""
        self._started += 1
        name = f"node{self._started}"
        tagged = {**(resources or {}), TAG + name: 1}  # finds the node's process from its Ray node id
        self._start(name, ["--address", f"127.0.0.1:{self.gcs_port}", "--num-cpus", str(num_cpus),
                           "--resources", json.dumps(tagged)])  # fmt: skip
        self.named[name] = self.nodes[-1]
        self.node_args[name] = self.nodes[-1].args[self.nodes[-1].args.index("--address") :]
        if not wait:
            return None

        def mine() -> list[str]:
            return [r["node_id"] for r in self.alive_nodes() if TAG + name in r["resources_total"]]

        self._wait(lambda: bool(mine()), name)
        return mine()[0]

    def wait_workers(self, count: int, timeout: float = 180) -> list[str]:
        """Node ids of the alive worker nodes, once there are `count` of them. A worker node whose start
        failed (Ray gives a raylet 30 s to register, which a loaded 2-core machine can miss) is started
        again, once per node."""

        def workers() -> list[str]:
            rows = self.alive_nodes()
            for r in rows:
                for key in r["resources_total"]:
                    if key.startswith(TAG):
                        self.names[r["node_id"]] = key[len(TAG) :]
            return [r["node_id"] for r in rows if r["node_id"] in self.names]

        def ready() -> bool:
            for name, proc in list(self.named.items()):
                if proc.poll() is not None and name not in self.restarted:
                    self.restarted.add(name)
                    self.nodes.remove(proc)
                    self.killed.append(proc)  # its group is signalled again at stop()
                    self._start(name, self.node_args[name])
                    self.named[name] = self.nodes[-1]
            return len(workers()) >= count

        self._wait(ready, f"{count} worker nodes", timeout)
        return workers()

    def kill_node(self, node_id: str) -> None:
        """SIGKILL a worker node and every process of its group at once, as when a machine is lost; the node
        leaves `nodes`, and its group is signalled again at `stop()`."""
        if node_id not in self.names:
            self.wait_workers(1)  # learns the names of the alive worker nodes
        proc = self.named.pop(self.names[node_id])
        self.nodes.remove(proc)
        _signal_session(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        self.killed.append(proc)

    def wait_node_dead(self, node_id: str, timeout: float = 60) -> None:
        """Wait until the head's state API no longer lists `node_id` as alive."""
        deadline = time.time() + timeout
        while node_id in {r["node_id"] for r in self.alive_nodes()}:
            if time.time() > deadline:
                raise RuntimeError(f"node {node_id} still alive {timeout:.0f}s after it was killed")
            time.sleep(0.5)

    def _get(self, path: str):
        req = urllib.request.Request(
            self.dashboard_url + path, headers={"Authorization": f"Bearer {self.token}"}
        )
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return json.loads(resp.read() or b"null") if path.startswith("/api/v0") else resp.read()
        except OSError:
            return None

    def alive_nodes(self) -> list[dict]:
        """Alive nodes from Ray's state API (node_id, resources_total, ...)."""
        data = self._get("/api/v0/nodes?limit=100&detail=1")
        rows = (data or {}).get("data", {}).get("result", {}).get("result", [])
        return [r for r in rows if r.get("state") == "ALIVE"]

    def state(self, kind: str, job_id: str) -> list[dict]:
        """Rows of Ray's state API ("tasks", "actors") for one Ray job (by its Ray job id)."""
        query = f"limit=10000&detail=1&filter_keys=job_id&filter_predicates=%3D&filter_values={job_id}"
        data = self._get(f"/api/v0/{kind}?{query}")
        return (data or {}).get("data", {}).get("result", {}).get("result", [])

    def _wait(self, ready, what: str, timeout: float = 90) -> None:
        deadline = time.time() + timeout
        while not ready():
            dead = [p for p in self.nodes if p.poll() is not None]
            if dead or time.time() > deadline:
                logs = "\n".join(p.read_text()[-2000:] for p in self.root.glob("*.log"))
                self.stop()
                raise RuntimeError(f"{what} of the test Ray cluster did not start\n{logs}")
            time.sleep(0.5)

    def stop(self) -> None:
        """Stop the nodes this object started, by process group id: worker nodes first, the head last."""
        for proc in reversed(self.nodes):
            _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.time() + 3
        for proc in reversed(self.nodes):
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.time()))
        for proc in self.nodes + self.killed:  # what is left of each node (slow shutdowns, stray workers)
            _signal_session(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        self.nodes.clear()
        self.killed.clear()
        shutil.rmtree(self.root, ignore_errors=True)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _signal_session(sid: int, sig: int) -> None:
    """Signal every process of a node's session (its `ray start` pid): its process group, and the Ray
    worker processes, which the raylet starts in process groups of their own within the session."""
    _signal_group(sid, sig)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        if int(fields[3]) == sid:  # after "pid (comm)": state ppid pgrp session
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(stat.parent.name), sig)
