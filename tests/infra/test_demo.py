"""`unitscope demo` end to end on a shrunken budget: synth, ingest, train, probe, the concept table."""

import pyarrow.parquet as pq
import pytest

from tests.helpers import run_cli

TINY = """
train_videos: 3
probe_videos: 4
synth: {seconds: 3, fps: 8, size: 96}
ingest: {fps: 4, size: 32}
train: {steps: 6, batch_size: 8, width: 4}
probe: {permutations: 9, min_examples: 2}
"""


@pytest.mark.slow
def test_demo_smoke(tmp_path):
    cfg = tmp_path / "demo.yaml"
    cfg.write_text(TINY)
    out = tmp_path / "demo"
    proc = run_cli("demo", str(out), "--config", str(cfg), timeout=600, check=True)
    assert "best unit" in proc.stdout and "report:" in proc.stdout
    report = out / "run" / "probe" / "report.html"
    assert report.is_file() and str(report) in proc.stdout
    catalog = pq.read_table(out / "run" / "probe" / "catalog.parquet").to_pylist()
    scored = {r["concept"] for r in catalog}
    assert scored and scored <= {"face", "wheel", "cat", "walker"}
    for concept in scored:
        assert concept in proc.stdout
