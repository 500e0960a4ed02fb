"""The CLI on local Ray, as a user runs it: relative paths from the caller's folder, whose own
`pipeline.py`, `train.py`, `probe.py` and `infra.py` never shadow a stage (Ray workers put that folder first
on sys.path), and output that holds unitscope's lines only (one progress line per step logged; Ray's own
messages in its log folder)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import run_cli
from tests.train.datasets import write_videos

pytestmark = pytest.mark.slow
STEPS = 4


@pytest.fixture(scope="module")
def commands(tmp_path_factory):
    """ingest then train on Ray, both given paths relative to their working directory, which holds modules
    named like the stages that fail when imported."""
    here = tmp_path_factory.mktemp("cli-on-ray")
    for name in ("pipeline", "train", "probe", "infra"):
        (here / f"{name}.py").write_text(f"raise ImportError('the user\\'s own {name}.py was imported')\n")
    write_videos(here / "videos", [8, 8, 8])
    ingest = run_cli("ingest", "videos", "ds", "--fps", "0", "--size", "32", "--shard-frames", "8",
                     "--workers", "1", cwd=here)  # fmt: skip
    (here / "tiny.yaml").write_text(
        "width: 4\ninput_size: 32\nloader_workers: 1\nshuffle_buffer: 8\nlog_every: 2\n"
    )
    train = run_cli("train", "ds", "run", "--steps", STEPS, "--batch-size", "4", "--workers", "1",
                    "--config", "tiny.yaml", cwd=here)  # fmt: skip
    return here, ingest, train


def test_ingest_and_train_on_ray_take_paths_relative_to_the_callers_folder(commands):
    here, ingest, train = commands
    assert ingest.returncode == 0, ingest.stderr[-3000:]
    assert (here / "ds" / "shards" / "frames-000000.tar").exists()
    assert train.returncode == 0, train.stderr[-3000:]
    assert (here / "run" / "encoder.pt").exists()
    assert "was imported" not in ingest.stderr + train.stderr


def test_one_progress_line_per_logged_step_and_rays_messages_in_its_log_folder(commands):
    _, ingest, train = commands
    lines = train.stderr.splitlines()
    for step in range(2, STEPS + 1, 2):
        assert sum(line.startswith(f"train step {step}/{STEPS} ") for line in lines) == 1, train.stderr
    for proc in (ingest, train):
        for noise in ("pid=", "TrainController", "PlacementGroupCleaner", "Traceback", "WARNING"):
            assert noise not in proc.stderr, proc.stderr
    where = re.search(
        r"Ray's own messages and its workers' output: (\S+) \(-v prints them here\)", train.stderr
    )
    assert where and (Path(where.group(1)) / "unitscope-driver.log").exists(), train.stderr
