"""`dissect` on small probed runs (a conv net and a grouped K-means dictionary): the page, its JSON and
PNGs, written atomically; bad units, layers and runs as one clear line and exit 2."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from unitscope.probe.config import ProbeConfig
from unitscope.probe.dissect.dissection import DissectConfig, dissect, folder, write
from unitscope.probe.dissect.stimulus import StimulusConfig
from unitscope.probe.probe import run as probe
from unitscope.train.encoder import EncoderSpec, build_encoder
from unitscope.train.model_io import save_encoder

from tests.helpers import ROOT, cli_env, run_cli
from tests.probe.tiny_dataset import write_dataset, write_run

pytestmark = pytest.mark.slow  # probes two runs and starts the CLI: end to end

FAST = DissectConfig(frames=4, stimulus=StimulusConfig(steps=12))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("dissect")
    ds = write_dataset(root / "ds")
    conv = write_run(root / "conv")
    km = root / "kmeans"
    save_encoder(build_encoder(EncoderSpec.create("kmeans", 12, None, 32, patch=6, group=3), 2), str(km))
    for r in (conv, km):
        probe(
            ProbeConfig(
                run=str(r), dataset=str(ds), permutations=19, min_examples=3, batch_size=16, workers=0
            )
        )
    return {"conv": conv, "kmeans": km, "ds": ds, "root": root}


def best_unit(run: Path) -> str:
    import pyarrow.parquet as pq

    rows = pq.read_table(run / "probe" / "catalog.parquet").to_pylist()
    return next(r["unit"] for r in rows if r["rank"] == 1)


@pytest.mark.parametrize("kind", ["conv", "kmeans"])
def test_dissection_page_json_and_pngs(runs, kind, tmp_path):
    run = runs[kind]
    unit = best_unit(run)
    d = dissect(str(run), unit, FAST)
    paths = write(d, str(tmp_path / "out"))
    s = json.loads(Path(paths["dissection.json"]).read_text())
    assert s["unit"] == unit and s["concepts"][0]["concept"] == "disk" and s["concepts"][0]["p_value"] > 0
    for key in ("translation_x_range", "translation_y_range", "scale_range", "rotation_range"):
        assert key in s and key in s["control"]
    assert s["control"]["unit"] == s["concepts"][0]["random_unit"]
    assert s["trained"]["reference"]["frames"] > 0 and len(s["trained"]["frames"]) == 4
    assert (
        len(s["top_frames"]) == 12 and s["top_frames"][0]["activation"] >= s["top_frames"][-1]["activation"]
    )
    report = (run / "probe" / "report.html").read_text()  # the report links the best unit's page
    assert f"href='dissect/{unit.replace('/', '-')}/index.html'" in report
    page = Path(paths["index.html"]).read_text()
    assert page.count("<svg") == 8 and "id='top-frames'" in page and page.count("data:image/jpeg") == 12
    assert "data:image/png" in page and "src='http" not in page  # self-contained
    pngs = {p.name for p in (tmp_path / "out").glob("*.png")}
    assert {"trained-stimulus.png", "control-stimulus.png", "card.png"} <= pngs
    if kind == "kmeans":
        assert {"trained-templates.png", "control-templates.png"} <= pngs
        assert len(s["trained"]["templates"]["members"]) == (3 if unit.startswith("group1") else 1)


def test_cli_writes_into_the_run_and_prints_ranges(runs):
    run = runs["kmeans"]
    r = run_cli("dissect", str(run), "kmeans1/3", "--steps", "8", "--frames", "3")
    assert r.returncode == 0, r.stderr
    assert "translation_x" in r.stdout and "scale" in r.stdout
    assert (Path(folder(str(run), "kmeans1", 3)) / "index.html").is_file()


@pytest.mark.parametrize(
    "args, words",
    [
        (["kmeans1/999"], "channels 0..11"),
        (["conv9/0"], "unknown layer 'conv9'"),
        (["nonsense"], "expected LAYER/CHANNEL"),
    ],
)
def test_bad_units_are_one_line_and_exit_2(runs, args, words):
    r = run_cli("dissect", str(runs["kmeans"]), *args)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    said = [line for line in r.stderr.splitlines() if line.startswith("unitscope dissect: error:")]
    assert len(said) == 1 and words in said[0], r.stderr


def test_run_without_probe_is_one_line_and_exit_2(runs, tmp_path):
    bare = write_run(tmp_path / "bare")
    r = run_cli("dissect", str(bare), "conv1/0")
    assert r.returncode == 2 and "unitscope probe" in r.stderr and "Traceback" not in r.stderr


def test_ctrl_c_leaves_no_half_written_page(runs, tmp_path):
    out = tmp_path / "page"
    proc = subprocess.Popen(
        [sys.executable, "-m", "unitscope", "dissect", str(runs["conv"]), "conv3/1", "--out", str(out),
         "--steps", "100000"],
        cwd=ROOT, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    time.sleep(8)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)
    assert proc.returncode != 0
    left = sorted(os.listdir(out)) if out.exists() else []
    assert "index.html" not in left and not [n for n in left if n.endswith(".tmp")]
