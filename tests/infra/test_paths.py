"""Relative local paths on the command line: made absolute in the driver, so Ray's workers (which run in
folders of Ray's session, not here) read and write the same files."""

from __future__ import annotations

import pytest

from tests.helpers import run_cli
from tests.train.datasets import write_videos

pytestmark = pytest.mark.slow


def test_ingest_and_train_on_ray_take_paths_relative_to_the_callers_folder(tmp_path):
    write_videos(tmp_path / "videos", [8, 8, 8])
    run_cli("ingest", "videos", "ds", "--fps", "0", "--size", "32", "--shard-frames", "8", "--workers", "1",
            "--quiet", cwd=tmp_path, check=True)  # fmt: skip
    assert sorted(p.name for p in (tmp_path / "ds" / "shards").iterdir())[:1] == ["frames-000000.tar"]
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text("width: 4\ninput_size: 32\nloader_workers: 1\nshuffle_buffer: 8\nlog_every: 2\n")
    proc = run_cli("train", "ds", "run", "--steps", "2", "--batch-size", "4", "--workers", "1",
                   "--config", "tiny.yaml", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "run" / "encoder.pt").exists()
