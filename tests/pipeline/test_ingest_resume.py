"""Resume: a SIGKILLed `unitscope ingest` leaves no partial shard behind, and running it again finishes the
job with exactly the shards of an uninterrupted run; running a finished job again does no work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tarfile
import time

import pytest
from unitscope.pipeline import schema
from unitscope.pipeline.config import IngestConfig
from unitscope.pipeline.dataset import Dataset
from unitscope.pipeline.ingest import run

from tests.helpers import ROOT, cli_env, run_cli
from tests.pipeline import media

ARGS = ["--fps", "0", "--size", "64", "--shard-frames", "120", "--workers", "0"]


@pytest.fixture(scope="module")
def slow_corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("slow")
    for i in range(6):
        media.make_video(
            d / f"v{i}.mp4", width=320, height=240, frames=120, rate=30, options={"preset": "ultrafast"}
        )
    return d


def _complete_tars(out):
    """Every shard file under OUT (outside the staging area) reads to its end as a tar."""
    found = []
    for dirpath, dirnames, files in os.walk(out):
        dirnames[:] = [d for d in dirnames if d != ".staging"]
        for f in files:
            if f.endswith(".tar"):
                with tarfile.open(os.path.join(dirpath, f)) as t:
                    found.append((f, len(t.getmembers())))
    return found


@pytest.mark.slow
def test_sigkill_then_resume_equals_an_uninterrupted_run(slow_corpus, tmp_path):
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "unitscope", "ingest", str(slow_corpus), str(out), *ARGS],
        cwd=ROOT,
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    first = out / schema.shard_path(0)
    deadline = time.time() + 120
    while not first.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the job finished before it could be killed"
    committed = _complete_tars(out)
    assert 1 <= len(committed) < 6 and all(n == 240 for _, n in committed)  # 120 frames x (jpg, json)
    assert not (out / schema.DATASET_JSON).exists()
    with pytest.raises(Exception, match="not a unitscope dataset"):
        Dataset(str(out))

    resumed = run_cli("ingest", slow_corpus, out, *ARGS, check=True)
    assert f"{6 - len(committed)} built now" in resumed.stderr
    assert not (out / ".staging").exists()
    assert not [f for _, _, fs in os.walk(out) for f in fs if f.endswith(".tmp")]

    clean = tmp_path / "clean"
    run(
        IngestConfig(
            src=str(slow_corpus), out=str(clean), fps=0, size=64, shard_frames=120, workers=0, progress=False
        )
    )
    a, b = Dataset(str(out)), Dataset(str(clean))
    keys = a.frames().column("key").to_pylist()
    assert len(keys) == len(set(keys)) == 720
    assert sorted(keys) == sorted(b.frames().column("key").to_pylist())
    for i in range(6):
        assert (out / schema.shard_path(i)).read_bytes() == (clean / schema.shard_path(i)).read_bytes()
    assert a.info()["counts"] == b.info()["counts"]

    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    again = run_cli("ingest", slow_corpus, out, *ARGS, check=True)
    assert "0 built now" in again.stderr
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before
