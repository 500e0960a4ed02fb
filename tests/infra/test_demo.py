"""`unitscope demo` end to end on a shrunken budget: synth, ingest, train, probe, the concept table."""

import json

import pyarrow.parquet as pq
import pytest
import yaml
from unitscope.probe.detector import DetectorRule

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
    assert "linear probe AUC" in proc.stdout and DetectorRule().text() in proc.stdout
    report = out / "run" / "probe" / "report.html"
    assert report.is_file() and str(report) in proc.stdout
    catalog = pq.read_table(out / "run" / "probe" / "catalog.parquet").to_pylist()
    scored = {r["concept"] for r in catalog}
    skipped = json.loads((out / "run" / "probe" / "probe.json").read_text())["skipped_concepts"]
    # every planted concept is scored and printed, or skipped with its reason: none vanishes
    assert scored and scored | set(skipped) == {"face", "wheel", "cat", "walker"}, (scored, skipped)
    assert not scored & set(skipped) and all(skipped.values())
    for concept in scored:
        assert concept in proc.stdout
    best = {r["unit"] for r in catalog if r["rank"] == 1}  # each dissected, its page printed with its ranges
    for unit in best:
        page = out / "run" / "probe" / "dissect" / unit.replace("/", "-") / "index.html"
        assert page.is_file() and str(page) in proc.stdout
    assert proc.stdout.count("invariance ranges: translation_x") == len(scored)


def _last_step(run_dir) -> int:
    return json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])["step"]


def _made(out) -> dict[str, int]:
    """When each stage's output was last written."""
    files = ["videos-train/clip-0000.mp4", "videos-probe/clip-0000.mp4", "data-train/dataset.json",
             "data-probe/dataset.json", "run/encoder.pt"]  # fmt: skip
    return {f.split("/")[0]: (out / f).stat().st_mtime_ns for f in files}


@pytest.mark.slow
@pytest.mark.timeout(900)  # five shrunken demos, on CI's 2 cores
def test_each_stage_redoes_only_what_changed(tmp_path):
    from unitscope.infra.demo import DemoConfig, run

    tiny = yaml.safe_load(TINY)
    no_ray = {"workers": 0}
    opts = {**tiny, "synth": {**tiny["synth"], **no_ray}, "ingest": {**tiny["ingest"], **no_ray},
            "probe": {**tiny["probe"], **no_ray}, "out": str(tmp_path / "demo")}  # fmt: skip
    out = tmp_path / "demo"
    first = run(DemoConfig(**opts))
    assert _last_step(out / "run") == 6
    made = _made(out)

    # the same settings again: every stage keeps its output, and the table is the same
    again = run(DemoConfig(**opts))
    assert _made(out) == made and again.table == first.table

    # other training settings: the encoder of the earlier ones is not taken as done; the data is kept
    opts["train"] = {**tiny["train"], "steps": 8, "checkpoint_every": 4}
    run(DemoConfig(**opts))
    now = _made(out)
    assert _last_step(out / "run") == 8 and now["run"] != made["run"]
    assert {k: v for k, v in now.items() if k != "run"} == {k: v for k, v in made.items() if k != "run"}

    # a training run cut short after its checkpoint at step 4 (no encoder yet) resumes there
    (out / "run" / "encoder.pt").unlink()
    (out / "run" / "checkpoints" / "latest.json").write_text('{"step": 4, "file": "step-00000004.pt"}')
    run(DemoConfig(**opts))
    rows = [json.loads(line) for line in (out / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 9)) and (out / "run" / "encoder.pt").exists()
    made = _made(out)

    # another training corpus (fewer clips): it, its dataset and the run are made again, from the
    # new clips only; the probe corpus and its dataset are kept
    run(DemoConfig(**{**opts, "train_videos": 2}))
    now = _made(out)
    assert all(now[k] != made[k] for k in ("videos-train", "data-train", "run"))
    assert all(now[k] == made[k] for k in ("videos-probe", "data-probe"))
    assert sorted(p.name for p in (out / "videos-train").glob("*.mp4")) == ["clip-0000.mp4", "clip-0001.mp4"]
    counts = json.loads((out / "data-train" / "dataset.json").read_text())["counts"]
    rows = [json.loads(line) for line in (out / "run" / "metrics.jsonl").read_text().splitlines()]
    assert counts["videos_ok"] == 2 and [r["step"] for r in rows] == list(range(1, 9))
