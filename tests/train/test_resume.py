"""Kill a real `unitscope train` with SIGKILL after its first checkpoint; `--resume` continues it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml
from unitscope.train.config import TrainConfig
from unitscope.train.train import run

from tests.helpers import ROOT, cli_env, run_cli
from tests.train.conftest import TINY

pytestmark = pytest.mark.slow
STEPS = 30


def _rows(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_sigkilled_run_resumes_from_its_checkpoint_without_a_step_gap(dataset, tmp_path):
    cfg_file = tmp_path / "train.yaml"
    cfg_file.write_text(yaml.safe_dump({**TINY, "checkpoint_every": 10}))
    run_dir = tmp_path / "run"
    args = [
        "train",
        str(dataset),
        str(run_dir),
        "--workers",
        "0",
        "--steps",
        str(STEPS),
        "--config",
        str(cfg_file),
    ]
    proc = subprocess.Popen([sys.executable, "-m", "unitscope", *args], env=cli_env(), cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    latest = run_dir / "checkpoints" / "latest.json"
    deadline = time.monotonic() + 180
    while not latest.exists():
        assert proc.poll() is None, "training exited before its first checkpoint"
        assert time.monotonic() < deadline, "no checkpoint within 180 s"
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    ckpt = json.loads(latest.read_text())["step"]
    assert 10 <= ckpt < STEPS
    before = {r["step"]: r for r in _rows(run_dir) if r["step"] <= ckpt}

    again = run_cli(*args, timeout=300)
    assert again.returncode == 2 and "--resume" in again.stderr  # a second start must not overwrite the run
    resumed = run_cli(*args, "--resume", timeout=300, check=True)
    assert f"from step {ckpt}" in resumed.stdout
    rows = _rows(run_dir)
    assert [r["step"] for r in rows] == list(range(1, STEPS + 1))
    assert all(rows[s - 1] == before[s] for s in before)

    whole = TrainConfig(dataset=str(dataset), run=str(tmp_path / "whole"), workers=0, steps=STEPS,
                        checkpoint_every=10, **TINY)  # fmt: skip
    run(whole)
    tail = [r["loss"] for r in rows[-10:]]
    ref = [r["loss"] for r in _rows(tmp_path / "whole")[-10:]]
    mean, ref_mean = sum(tail) / 10, sum(ref) / 10
    assert abs(mean - ref_mean) <= 0.25 * ref_mean, (mean, ref_mean)
