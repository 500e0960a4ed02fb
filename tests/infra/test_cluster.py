"""`unitscope submit` against a real two-node Ray cluster on this machine (token authentication on):
jobs run the submitted checkout, work lands on both nodes, outputs go to an S3-compatible server with
credentials passed only through the job's runtime env, failures and bad tokens give clear errors."""

from __future__ import annotations

import argparse
import json
import math
import re
import signal
import subprocess
import sys
import time

import pytest
import torch
from unitscope.infra.cli import build_parser
from unitscope.pipeline.dataset import Dataset

from tests.helpers import ROOT, cli_env, run_cli
from tests.infra.local_cluster import LocalCluster
from tests.pipeline import media
from tests.probe.tiny_dataset import write_dataset
from unitscope.core import storage

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

S3_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "FSSPEC_S3_ENDPOINT_URL")
VIDEOS, FRAMES_PER_VIDEO = 4, 10  # 2 s at 10 fps, sampled at 5 fps


@pytest.fixture(scope="module")
def cluster(s3_server):
    c = LocalCluster()
    try:
        c.start_head(num_cpus=1)
        # One CPU each: two concurrent shard tasks or two Ray Train workers must use both nodes.
        c.add_node(num_cpus=1, resources={"unitscope_worker": 1})
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def s3_videos(s3_server, tmp_path_factory) -> str:
    local = tmp_path_factory.mktemp("cluster-videos")
    fs, _ = storage.url_to_fs("s3://cluster-test")
    fs.mkdir("cluster-test")
    for i in range(VIDEOS):
        media.make_video(local / f"clip{i}.mp4", width=64, height=48, frames=20, rate=10)
        fs.put_file(str(local / f"clip{i}.mp4"), f"cluster-test/videos/clip{i}.mp4")
    return "s3://cluster-test/videos"


def submit(
    cluster: LocalCluster, *command: str, env: tuple[str, ...] = (), token: str | None = "", timeout=240
):
    """`unitscope submit` to the cluster; leading `--flags` of `command` are submit's own."""
    flags = [f for name in env for f in ("--env", name)]
    while command and command[0].startswith("--"):
        flags.append(command[0])
        command = command[1:]
    return run_cli(
        "submit",
        "--address",
        cluster.dashboard_url,
        *flags,
        "--",
        *command,
        timeout=timeout,
        **cluster.client_env(token),
    )


def job_id_of(proc) -> str:
    return re.search(r"submitted job (unitscope-\S+)", proc.stderr).group(1)


def test_nodes_have_their_own_resources(cluster):
    nodes = cluster.alive_nodes()
    assert len(nodes) == 2
    assert sorted(n["resources_total"].get("unitscope_worker", 0) for n in nodes) == [0, 1]


@pytest.fixture(scope="module")
def ingested(cluster, s3_videos):
    """The ingest job (tiny clips on S3 -> dataset on S3) and its `unitscope submit` process."""
    out = "s3://cluster-test/dataset"
    # The command's process reserves a CPU, so its node has none left for shard tasks: the tasks must
    # run on the other node (on an idle cluster short tasks could all finish on one node).
    proc = submit(
        cluster,
        "--entrypoint-num-cpus=1",
        *("ingest", s3_videos, out, "--fps", "5", "--size", "32", "--shard-frames", "10", "--workers", "1"),
        env=S3_ENV,
    )
    return out, proc


def test_ingest_job_runs_on_both_nodes_and_writes_to_s3(cluster, ingested):
    out, proc = ingested
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCEEDED" in proc.stderr and "ingest: done" in proc.stdout  # the job's logs were streamed

    ds = Dataset(out)
    assert ds.videos().column("status").to_pylist() == ["ok"] * VIDEOS
    assert ds.frames().num_rows == VIDEOS * FRAMES_PER_VIDEO
    assert sum(ds.shards().column("frames").to_pylist()) == VIDEOS * FRAMES_PER_VIDEO
    key = ds.frames().column("key")[0].as_py()
    assert ds.read_jpeg(key)[:2] == b"\xff\xd8"

    listed = run_cli("jobs", "list", "--address", cluster.dashboard_url, **cluster.client_env())
    assert re.search(rf"{job_id_of(proc)}\tSUCCEEDED", listed.stdout), listed.stdout
    info = _client(cluster).get_job_info(job_id_of(proc))
    tasks = cluster.state("tasks", info.job_id)
    shard_nodes = {t["node_id"] for t in tasks if t["name"].endswith("_ray_build_shard")}
    assert len(shard_nodes) == 1 and info.driver_node_id not in shard_nodes, (
        info.driver_node_id,
        shard_nodes,
    )
    assert shard_nodes | {info.driver_node_id} == {n["node_id"] for n in cluster.alive_nodes()}


def test_train_job_with_two_workers_on_two_nodes(cluster, ingested):
    if "train" not in _commands():
        pytest.skip("`unitscope train` is not in this checkout's CLI yet")
    dataset, ingest = ingested
    assert ingest.returncode == 0, "the ingest job failed; see the ingest test"
    run = "s3://cluster-test/run"
    proc = submit(
        cluster, "train", dataset, run, "--steps", "4", "--batch-size", "8", "--workers", "2", env=S3_ENV
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "trained 4 steps" in proc.stdout and "SUCCEEDED" in proc.stderr

    fs, root = storage.url_to_fs(run)
    assert fs.exists(f"{root}/config.json")
    steps = [json.loads(line) for line in fs.cat_file(f"{root}/metrics.jsonl").decode().splitlines() if line]
    assert steps and all(math.isfinite(s["loss"]) for s in steps if "loss" in s)
    encoder = re.search(r"encoder: (\S+)", proc.stdout).group(1)
    with fs.open(storage.url_to_fs(encoder)[1], "rb") as f:
        assert torch.load(f, map_location="cpu", weights_only=True)

    actors = cluster.state("actors", _client(cluster).get_job_info(job_id_of(proc)).job_id)
    worker_nodes = {a["node_id"] for a in actors if a["class_name"] == "RayTrainWorker"}
    assert len(worker_nodes) == 2, f"train workers ran on {worker_nodes}"


def _commands() -> set[str]:
    parser = build_parser()
    return set(next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices)


def test_users_own_pipeline_train_probe_modules_never_shadow_the_stages(cluster, tmp_path):
    """A submitted folder holding its own train.py, pipeline.py, probe.py and infra.py (each would fail
    if imported): `train` and `probe` run through `submit` from it, the installed stages doing the work."""
    folder = tmp_path / "my-project"
    folder.mkdir()
    for name in ("pipeline", "train", "probe", "infra"):
        (folder / f"{name}.py").write_text(f"raise ImportError('the user's own {name}.py was imported')\n")
    dataset, run = write_dataset(tmp_path / "dataset", videos=8, frames=6), tmp_path / "run"
    trained = submit(
        cluster, f"--working-dir={folder}", "train", str(dataset), str(run), "--steps", "2",
        "--batch-size", "8", "--workers", "1",
    )  # fmt: skip
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert "trained 2 steps" in trained.stdout and "own train.py" not in trained.stdout + trained.stderr
    probed = submit(
        cluster, f"--working-dir={folder}", "probe", str(run), str(dataset), "--permutations", "20"
    )
    assert probed.returncode == 0, probed.stdout + probed.stderr
    assert "disk" in probed.stdout and (run / "probe" / "report.html").is_file()


def test_failed_job_exits_with_the_commands_status(cluster, tmp_path):
    proc = submit(cluster, "ingest", str(tmp_path / "no-such-videos"), str(tmp_path / "out"))
    assert proc.returncode == 2, proc.stdout + proc.stderr  # ingest's own exit status for bad input
    assert "does not exist" in proc.stdout  # the job's error, streamed from the cluster
    assert re.search(r"job unitscope-ingest-\w+ FAILED \(exit 2\)", proc.stderr)


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (None, "requires an authentication token and none was sent"),
        ("not-the-token", "rejected the authentication token"),
    ],
    ids=["missing", "wrong"],
)
def test_bad_token_is_a_clear_error(cluster, token, message):
    proc = submit(
        cluster, "ingest", "s3://cluster-test/videos", "s3://cluster-test/never", token=token, timeout=60
    )
    assert proc.returncode == 2
    assert message in proc.stderr and "RAY_AUTH_TOKEN" in proc.stderr
    assert "Traceback" not in proc.stderr


def _client(cluster: LocalCluster):
    from ray.job_submission import JobSubmissionClient

    return JobSubmissionClient(cluster.dashboard_url, headers={"Authorization": f"Bearer {cluster.token}"})


def _wait_status(cluster: LocalCluster, job_id: str, wanted: set[str], timeout: float = 60) -> str:
    deadline = time.time() + timeout
    while (status := str(_client(cluster).get_job_status(job_id))) not in wanted:
        assert time.time() < deadline, f"job {job_id} is {status}, not {wanted}"
        time.sleep(0.5)
    return status


@pytest.fixture
def interruptible():
    """Children that take SIGINT: a suite started in the background of a non-interactive shell runs with
    SIGINT ignored, every child inherits that, and a Python started so never raises KeyboardInterrupt
    (both cases below then time out). A handler here becomes the default disposition across exec."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


@pytest.mark.parametrize("stop_flag", [False, True], ids=["job-keeps-running", "stop-on-interrupt"])
def test_ctrl_c_while_streaming(cluster, tmp_path, stop_flag, interruptible):
    # A corpus far too long to finish during the test: the job is surely running when Ctrl-C comes.
    command = ["synth", str(tmp_path / "corpus"), "--videos", "2", "--seconds", "600", "--workers", "1"]
    flags = ["--stop-on-interrupt"] if stop_flag else []
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "unitscope",
            "submit",
            "--address",
            cluster.dashboard_url,
            *flags,
            "--",
            *command,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=cli_env(**cluster.client_env()),
    )
    try:
        seen = ""
        while not (found := re.search(r"submitted job (unitscope-\S+)", seen)):
            line = proc.stderr.readline()
            assert line, f"submit ended before submitting: {seen}"
            seen += line
        job_id = found.group(1)
        _wait_status(cluster, job_id, {"RUNNING"})
        time.sleep(2)  # the log stream is open
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    if stop_flag:
        assert f"asked the cluster to stop job {job_id}; it is STOPPED" in err
        assert _wait_status(cluster, job_id, {"STOPPED", "FAILED", "SUCCEEDED"}) == "STOPPED"
    else:
        assert f"stopped following job {job_id}; it keeps running" in err
        assert f"unitscope jobs stop {job_id}" in err
        assert str(_client(cluster).get_job_status(job_id)) == "RUNNING"
        logs = run_cli("jobs", "logs", job_id, "--address", cluster.dashboard_url, **cluster.client_env())
        assert logs.returncode == 0 and "synth" in logs.stdout
        stop = run_cli("jobs", "stop", job_id, "--address", cluster.dashboard_url, **cluster.client_env())
        assert stop.returncode == 0 and f"job {job_id} STOPPED" in stop.stderr, stop.stderr


def test_no_wait_then_follow_the_job(cluster, tmp_path):
    out = tmp_path / "corpus"
    proc = submit(cluster, "--no-wait", "synth", str(out), "--videos", "1", "--seconds", "1", "--size", "64")
    assert proc.returncode == 0, proc.stderr
    job_id = proc.stdout.strip()
    assert re.fullmatch(r"unitscope-synth-\w+", job_id) and "jobs logs" in proc.stderr
    follow = run_cli(
        "jobs", "logs", job_id, "--follow", "--address", cluster.dashboard_url, **cluster.client_env()
    )
    assert follow.returncode == 0, follow.stdout + follow.stderr
    assert "wrote 1 clips" in follow.stdout and f"job {job_id} SUCCEEDED" in follow.stderr
    assert (out / "corpus.json").is_file() and len(list(out.glob("*.mp4"))) == 1
    missing = run_cli(
        "jobs",
        "logs",
        "unitscope-synth-nosuchjob",
        "--address",
        cluster.dashboard_url,
        **cluster.client_env(),
    )
    assert missing.returncode == 2 and "no job 'unitscope-synth-nosuchjob'" in missing.stderr


def test_stage_attaches_with_address_and_token(cluster, tmp_path):
    """`--address HOST:PORT` from outside the cluster: the CLI presents the token (no RAY_AUTH_MODE set)."""
    out = tmp_path / "corpus"
    address = f"127.0.0.1:{cluster.gcs_port}"
    proc = run_cli(
        *("synth", str(out), "--videos", "1", "--seconds", "1", "--size", "64", "--address", address),
        timeout=120,
        **cluster.client_env(),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (out / "corpus.json").is_file()
    drivers = [j for j in _client(cluster).list_jobs() if str(j.type).endswith("DRIVER")]
    assert any("synth" in (j.entrypoint or "") for j in drivers), "the driver did not run on the cluster"
