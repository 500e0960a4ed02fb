"""A dead node never ends a job: ingest, train and probe submitted to a real cluster on this machine, one of
whose worker nodes is SIGKILLed (every process of its session, by id) while the state API shows it holding
the job's work. Every input and output is a local path, as on a shared mount."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch
import webdataset as wds
from unitscope.pipeline import schema
from unitscope.probe.catalog import CATALOG_TABLE
from unitscope.probe.config import ProbeConfig
from unitscope.probe.probe import run as probe_run
from unitscope.train import checkpoint
from unitscope.train.encoder import EncoderSpec, build_encoder
from unitscope.train.model_io import save_encoder

from tests.helpers import ROOT, cli_env
from tests.infra.local_cluster import LocalCluster
from tests.pipeline import media
from tests.probe.tiny_dataset import write_dataset
from tests.train.conftest import LENGTHS, TINY
from tests.train.datasets import make_dataset

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

VIDEOS, FRAMES = 4, 400  # one shard per video, each long enough (~1-2 s) to be caught while it runs
WORKER_CPUS = 2


@pytest.fixture(scope="module")
def cluster():
    # Each node has its own temp dir, as on separate machines: nodes sharing one unpack a job's package
    # again over it whenever one joins, and the job's processes can miss a module meanwhile.
    c = LocalCluster()
    try:
        # The head runs only the jobs' drivers (and Ray Train's controller, pinned beside its driver), as in
        # k8s/; tasks and training workers run on two worker nodes, so work lost with one goes on on the
        # other at once. Each lost node is replaced (as KubeRay does) while the job goes on.
        c.start_head(num_cpus=0)
        for _ in range(2):
            c.add_node(num_cpus=WORKER_CPUS, wait=False)
        c.wait_workers(2)
        yield c
    finally:
        c.stop()


class Job:
    """`unitscope submit -- COMMAND` running in the background, with its Ray job id for the state API."""

    def __init__(self, cluster: LocalCluster, *command: str):
        self.cluster = cluster
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "unitscope", "submit", "--address", cluster.dashboard_url, "--", *command],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=cli_env(**cluster.client_env()),
        )
        seen = ""
        while not (found := re.search(r"submitted job (unitscope-\S+)", seen)):
            line = self.proc.stderr.readline()
            assert line, f"submit ended before submitting: {seen}"
            seen += line
        self.submission_id = found.group(1)
        self.job_id = ""

    def rows(self, kind: str) -> list[dict]:
        if not self.job_id:
            info = _client(self.cluster).get_job_info(self.submission_id)
            self.job_id = info.job_id or ""
        return self.cluster.state(kind, self.job_id) if self.job_id else []

    def wait_for(self, ready, what: str, timeout: float = 180) -> list[dict]:
        """Poll until `ready()` returns rows; fail if the job ends first."""
        deadline = time.monotonic() + timeout
        while not (rows := ready()):
            if self.proc.poll() is not None:
                out, err = self.proc.communicate()
                pytest.fail(f"the job ended before {what}:\n{out[-3000:]}\n{err[-3000:]}")
            assert time.monotonic() < deadline, f"no {what} within {timeout}s"
            time.sleep(0.1)
        return rows

    def finish(self, timeout: float = 300) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err


def _client(cluster: LocalCluster):
    from ray.job_submission import JobSubmissionClient

    return JobSubmissionClient(cluster.dashboard_url, headers={"Authorization": f"Bearer {cluster.token}"})


def held(job: Job, kind: str, name: str, fresh_s: float = 0.8) -> list[dict]:
    """The job's tasks (or actors) named `name` that a worker node runs now. A task counts only when it
    started less than `fresh_s` ago (or has yet to start on its worker): under load the state API answers
    late, and a task seen running long ago may have ended by the time its node is killed."""
    busy = ("SUBMITTED_TO_WORKER", "RUNNING") if kind == "tasks" else ("ALIVE",)
    key = "name" if kind == "tasks" else "class_name"
    workers = set(job.cluster.wait_workers(1))
    rows = [
        r for r in job.rows(kind) if r[key].endswith(name) and r["node_id"] in workers and r["state"] in busy
    ]
    now_ms = time.time() * 1000
    return [r for r in rows if kind == "actors" or now_ms - (r["start_time_ms"] or now_ms) < fresh_s * 1000]


def kill_node_of(cluster: LocalCluster, rows: list[dict]) -> str:
    """SIGKILL the worker node that runs `rows[0]`, then start its replacement for the next test (as
    KubeRay restarts a lost worker pod); the job goes on on the other worker node meanwhile."""
    dead = rows[0]["node_id"]
    cluster.kill_node(dead)
    cluster.wait_node_dead(dead)
    cluster.add_node(num_cpus=WORKER_CPUS, wait=False)
    return dead


def test_ingest_survives_losing_the_node_that_builds_a_shard(cluster, tmp_path):
    src, out = tmp_path / "videos", tmp_path / "dataset"
    src.mkdir()
    media.make_video(src / "clip0.mp4", width=320, height=240, frames=FRAMES, rate=25)
    for i in range(1, VIDEOS):
        shutil.copy(src / "clip0.mp4", src / f"clip{i}.mp4")  # same pictures, another video (by URI)
    job = Job(cluster, "ingest", str(src), str(out), "--fps", "0", "--size", "32", "--shard-frames", str(FRAMES),
              "--workers", "2")  # fmt: skip
    cluster.wait_workers(2)
    busy = job.wait_for(lambda: held(job, "tasks", "_ray_build_shard"), "a shard task on a worker node")
    dead = kill_node_of(cluster, busy)
    code, stdout, stderr = job.finish()
    assert code == 0, stdout + stderr
    assert "ingest: done" in stdout and f"{VIDEOS * FRAMES} frames in {VIDEOS} shards" in stdout

    # The shard the dead node held was built again elsewhere: an attempt on it never finished.
    tasks = [t for t in job.rows("tasks") if t["name"].endswith("_ray_build_shard")]
    on_dead = [t for t in tasks if t["node_id"] == dead]
    assert on_dead and any(t["state"] != "FINISHED" for t in on_dead), on_dead
    assert any(t["attempt_number"] > 0 and t["state"] == "FINISHED" and t["node_id"] != dead for t in tasks)

    # Every frame once; every tar complete (tar and webdataset read it); nothing half-written in sight.
    frames = pq.read_table(out / schema.FRAMES_TABLE).column("key").to_pylist()
    assert len(frames) == len(set(frames)) == VIDEOS * FRAMES
    tars = sorted((out / schema.SHARDS_DIR).iterdir())
    assert [p.name for p in tars] == [Path(schema.shard_path(i)).name for i in range(VIDEOS)]
    listed = subprocess.run(["tar", "-tf", *map(str, tars[:1])], capture_output=True, text=True, check=True)
    assert len(listed.stdout.split()) == 2 * FRAMES
    for t in tars:
        with tarfile.open(t) as tf:
            assert len(tf.getnames()) == 2 * FRAMES
    samples = list(wds.WebDataset([str(t) for t in tars], shardshuffle=False))
    assert sorted(s["__key__"] for s in samples) == sorted(frames)
    assert not (out / ".staging").exists()


def test_train_restarts_from_its_checkpoint_when_a_node_dies(cluster, tmp_path):
    train_dataset = make_dataset(tmp_path, LENGTHS, shard_frames=12)
    # Tiny steps take ~10 ms: enough of them that the node dies mid-run, a few seconds after a checkpoint.
    run, steps = tmp_path / "run", 400
    options = {**TINY, "log_every": 25, "checkpoint_every": 25, "max_failures": 2, "resource_wait_s": 120}
    config = tmp_path / "train.json"
    config.write_text(json.dumps(options))
    job = Job(cluster, "train", str(train_dataset), str(run), "--steps", str(steps), "--workers", "2",
              "--config", str(config))  # fmt: skip
    # Kill only once a training worker runs on the node and the run has a checkpoint to go back to.
    cluster.wait_workers(2)
    busy = job.wait_for(
        lambda: checkpoint.latest_step(str(run)) and held(job, "actors", "RayTrainWorker"),
        "a training worker on a worker node after the first checkpoint",
    )
    at_kill = checkpoint.latest_step(str(run))
    dead = kill_node_of(cluster, busy)
    code, stdout, stderr = job.finish()
    assert code == 0, stdout + stderr
    assert f"trained {steps} steps" in stdout

    resumed = re.search(r"continuing from the checkpoint at step (\d+)", stdout + stderr)
    assert resumed and at_kill <= int(resumed.group(1)) < steps, stdout + stderr
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, steps + 1))  # no gap, no step twice
    assert torch.load(run / "encoder.pt", map_location="cpu", weights_only=True)
    workers = [a for a in job.rows("actors") if a["class_name"].endswith("RayTrainWorker")]
    assert any(a["node_id"] == dead for a in workers) and len(workers) >= 4, workers  # two worker groups


def test_probe_survives_losing_the_node_that_holds_a_chunk(cluster, tmp_path):
    dataset = write_dataset(tmp_path / "labelled", videos=12, frames=25, shards=3, size=64)
    # An encoder large enough that one shard's chunk takes seconds, so the kill lands while it is computed.
    quiet, disturbed = tmp_path / "quiet", tmp_path / "disturbed"
    save_encoder(build_encoder(EncoderSpec.create("conv4", 32, None, 96), seed=1), str(quiet))
    shutil.copytree(quiet, disturbed)
    options = {"permutations": 49, "min_examples": 3, "batch_size": 25}
    config = tmp_path / "probe.json"
    config.write_text(json.dumps(options))

    job = Job(cluster, "probe", str(disturbed), str(dataset), "--config", str(config))
    cluster.wait_workers(2)
    busy = job.wait_for(lambda: held(job, "tasks", "activate_shard", 1.5), "a probe task on a worker node")
    dead = kill_node_of(cluster, busy)
    code, stdout, stderr = job.finish()
    assert code == 0, stdout + stderr
    tasks = [t for t in job.rows("tasks") if t["name"].endswith("activate_shard")]
    assert any(t["node_id"] == dead and t["state"] != "FINISHED" for t in tasks), tasks

    probe_run(ProbeConfig(run=str(quiet), dataset=str(dataset), workers=0, **options))
    a = pq.read_table(quiet / CATALOG_TABLE).to_pylist()
    b = pq.read_table(disturbed / CATALOG_TABLE).to_pylist()
    assert [(r["concept"], r["rank"], r["layer"], r["channel"]) for r in a] == [
        (r["concept"], r["rank"], r["layer"], r["channel"]) for r in b
    ]
    for x, y in zip(a, b, strict=True):
        assert x["auc"] == pytest.approx(y["auc"], abs=1e-3)
    assert not list((disturbed / "probe").rglob("*.tmp"))
