"""What a user sees when ingest meets failures: one line per failed shard on the terminal with the log that
holds its traceback (named again by the summary), and each failed or skipped video with its reason."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from unitscope.pipeline import schema

from tests.helpers import run_cli
from tests.pipeline import media


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["0", "1"])
def test_a_failed_shard_is_one_line_and_its_traceback_is_in_the_named_log(tmp_path, workers):
    src = tmp_path / "clips"
    src.mkdir()
    for i in range(3):
        media.make_video(src / f"clip-{i}.mp4", frames=10, rate=10)
    (src / "broken.mp4").write_bytes(b"not a video at all")
    out = tmp_path / "out"
    (out / schema.SHARDS_DIR / schema.shard_name(1)).mkdir(parents=True)  # the commit of shard 1 fails
    proc = run_cli("ingest", src, out, "--fps", "10", "--size", "32", "--shard-frames", "10",
                   "--workers", workers, timeout=300)  # fmt: skip
    err = proc.stdout + proc.stderr
    assert proc.returncode == 1 and "Traceback" not in err, err
    lines = [line for line in err.splitlines() if re.search(r"shard 1 failed( after \d+ retries)?:", line)]
    assert len(lines) == 1, err  # one line, not the task's traceback
    log = re.search(r"traceback in (\S+)\)", lines[0]).group(1)
    assert "Traceback" in Path(log).read_text()
    summary = next(line for line in err.splitlines() if line.startswith("ingest: done"))
    assert "1 failed; tracebacks in " + log in summary
    assert re.search(r"^  failed: .*broken\.mp4: \S", err, re.M), err  # the broken video, with its reason
