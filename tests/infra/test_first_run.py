"""What a new user meets on a first run on their own data: options before or after the query kind, no
loader noise without -v, Ctrl-C that says how to resume, the gpu profile refused without CUDA, and
wrong-folder errors whose fix works."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
import torch
from unitscope.infra.cli import build_parser
from unitscope.pipeline.dataset import Dataset
from unitscope.probe.encoders import check_run

from tests.helpers import ROOT, cli_env, run_cli
from unitscope.core.errors import InputError


@pytest.mark.parametrize(
    "argv",
    [
        ["query", "R", "--json", "--top", "3", "concept", "X"],
        ["query", "R", "concept", "X", "--json", "--top", "3"],
        ["query", "R", "--json", "concept", "X", "--top", "3"],
    ],
)
def test_query_options_before_or_after_the_kind(argv):
    args = build_parser().parse_args(argv)
    assert (args.json, args.top, args.name) == (True, 3, "X")


def test_query_options_keep_their_defaults():
    args = build_parser().parse_args(["query", "R", "unit", "conv1/0"])
    assert (args.json, args.top, args.dataset) == (False, 10, None)


def test_dataset_given_a_run_folder_points_at_the_dataset(tmp_path):
    (tmp_path / "metrics.jsonl").write_text("{}\n")
    with pytest.raises(InputError, match=r"is a run directory written by `unitscope train`, not a dataset"):
        Dataset(str(tmp_path))


def test_dataset_given_a_non_empty_folder_does_not_suggest_ingesting_into_it(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError) as err:
        Dataset(str(tmp_path))
    assert f"ingest SRC {tmp_path}" not in str(err.value) and "into a new folder" in str(err.value)


def test_probe_given_a_dataset_as_run_says_the_order(tmp_path):
    (tmp_path / "dataset.json").write_text(json.dumps({"counts": {}}))
    with pytest.raises(
        InputError, match=r"is a dataset .* not a run: the order is `unitscope probe RUN DATASET`"
    ):
        check_run(str(tmp_path))


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal is for machines without CUDA")
def test_gpu_profile_without_cuda_is_refused(tmp_path):
    proc = run_cli("train", tmp_path / "ds", tmp_path / "run", "--profile", "gpu", RAY_ADDRESS="")
    assert proc.returncode == 2, proc.stderr
    assert "--profile gpu needs CUDA" in proc.stderr and "--profile cpu" in proc.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_faiss_loader_lines_only_with_verbose(tmp_path):
    quiet = run_cli("query", tmp_path / "norun", "concept", "x")
    loud = run_cli("-v", "query", tmp_path / "norun", "concept", "x")
    assert quiet.returncode == loud.returncode == 2
    assert "faiss.loader" not in quiet.stderr and "ModuleNotFoundError" not in quiet.stderr
    assert "faiss.loader" in loud.stderr


@pytest.mark.slow
def test_ctrl_c_says_how_to_resume(tmp_path):
    before = signal.signal(
        signal.SIGINT, signal.default_int_handler
    )  # a child inheriting SIG_IGN never stops
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "unitscope", "synth", str(tmp_path / "c"), "--videos", "4", "--seconds", "600",
             "--workers", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=cli_env(),
        )  # fmt: skip
    finally:
        signal.signal(signal.SIGINT, before)
    try:
        for _ in range(600):  # until the first clip is being rendered
            if (tmp_path / "c").exists():
                break
            subprocess.run(["sleep", "0.1"])
        subprocess.run(["sleep", "2"])
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted; run the same command again to resume" in err
