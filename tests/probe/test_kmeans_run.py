"""The kmeans objective end to end: fitted from shards, saved and reloaded with weights_only=True, resumed,
probed against its random-centroid control, queried by `layer/channel`, and judged by the one detector rule
that probe.json, the catalogue, the report and `unitscope query` all state."""

from __future__ import annotations

import html
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from unitscope.probe.catalog import CATALOG_TABLE, PROBE_JSON, REPORT_HTML, read_table
from unitscope.probe.config import ProbeConfig
from unitscope.probe.detector import DetectorRule
from unitscope.probe.encoders import open_encoder
from unitscope.probe.probe import run as probe
from unitscope.train.config import TrainConfig
from unitscope.train.model_io import load_encoder
from unitscope.train.train import run as train

from tests.helpers import run_cli
from tests.probe.tiny_dataset import write_dataset
from unitscope.core.errors import InputError

KMEANS = {"objective": "kmeans", "input_size": 32, "width": 24, "patch_size": 6, "patches_per_scale": 6,
          "checkpoint_every": 2, "workers": 0}  # fmt: skip
RULE = DetectorRule(min_auc=0.55, random_margin=0.0, alpha=0.5)  # loose, so both answers occur


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    root = tmp_path_factory.mktemp("kmeans")
    ds = write_dataset(root / "ds")
    cfg = TrainConfig(dataset=str(ds), run=str(root / "run"), steps=4, **KMEANS)
    result = train(cfg)
    return ds, cfg, result


def test_fit_writes_the_run_contract(fitted):
    _, cfg, result = fitted
    run = Path(cfg.run)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4] and result.steps == 4
    assert rows[-1]["loss"] <= rows[0]["loss"] + 1e-6  # Lloyd steps never raise the K-means objective
    state = torch.load(io.BytesIO((run / "encoder.pt").read_bytes()), weights_only=True)
    assert set(state) == {"whiten", "patch_mean", "centroids", "partners"} and state["centroids"].shape == (
        24,
        36,
    )
    assert state["partners"].shape == (24, 2) and torch.equal(state["partners"][:, 0], torch.arange(24))
    assert torch.allclose(state["centroids"].norm(dim=1), torch.ones(24), atol=1e-4)
    spec = json.loads((run / "encoder.json").read_text())
    assert spec["arch"] == "kmeans" and spec["layers"] == ["kmeans1", "group1"] and min(spec["scales"]) >= 6
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "latest.json", "step-00000002.pt", "step-00000002.pt.sha256", "step-00000004.pt",
        "step-00000004.pt.sha256",
    ]  # fmt: skip


def test_group_units_pool_each_unit_with_its_learned_partners(fitted):
    _, cfg, _ = fitted
    enc = load_encoder(cfg.run).eval()
    frames = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    with torch.no_grad():
        feats = enc.features(enc.preprocess(frames))
    best = feats["kmeans1"].amax(dim=(2, 3))
    assert feats["group1"].shape == (3, 24, 1, 1)
    assert torch.allclose(feats["group1"][:, :, 0, 0], best[:, enc.partners].mean(dim=2))


def test_no_frame_pairs_is_a_clear_error_before_the_fit(fitted, tmp_path):
    ds, _, _ = fitted
    cfg = TrainConfig(dataset=str(ds), run=str(tmp_path / "run"), steps=2, pair_max_gap_s=1e-4, **KMEANS)
    with pytest.raises(InputError, match=r"pair_max_gap_s.*kmeans_group 1"):
        train(cfg)
    assert (
        not (tmp_path / "run" / "metrics.jsonl").read_text()
        and not (tmp_path / "run" / "encoder.pt").exists()
    )
    train(cfg.model_copy(update={"kmeans_group": 1}))  # the fix the message names works
    assert json.loads((tmp_path / "run" / "encoder.json").read_text())["layers"] == ["kmeans1"]


def test_resume_continues_from_the_checkpoint(fitted, tmp_path):
    ds, cfg, _ = fitted
    first = TrainConfig(dataset=str(ds), run=str(tmp_path / "run"), steps=2, **KMEANS)
    train(first)
    train(first.model_copy(update={"steps": 4, "resume": True}))
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    a, b = load_encoder(cfg.run).state_dict(), load_encoder(str(tmp_path / "run")).state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)  # the same fit as the uninterrupted run


def test_random_control_keeps_the_whitening_and_redraws_the_centroids(fitted):
    _, cfg, _ = fitted
    trained = open_encoder(cfg.run, "trained", 0, "cpu")
    control = open_encoder(cfg.run, "random", 0, "cpu")
    assert torch.equal(trained.whiten, control.whiten) and torch.equal(trained.patch_mean, control.patch_mean)
    assert not torch.allclose(trained.centroids, control.centroids)
    assert not torch.equal(trained.partners, control.partners)  # the grouping is learned, so redrawn too
    assert torch.equal(control.centroids, open_encoder(cfg.run, "random", 0, "cpu", "again").centroids)


@pytest.mark.slow
def test_probe_and_query_apply_one_stated_rule(fitted):
    ds, cfg, _ = fitted
    pcfg = ProbeConfig(run=cfg.run, dataset=str(ds), workers=0, permutations=19, min_examples=3,
                       batch_size=16, **RULE.model_dump())  # fmt: skip
    result = probe(pcfg)
    assert result.units == 48 and result.frames == 120
    rows = read_table(f"{cfg.run}/{CATALOG_TABLE}").to_pylist()
    assert rows and all(r["unit"].split("/")[0] in ("kmeans1", "group1") for r in rows)
    assert [r["is_detector"] for r in rows] == [
        RULE.holds(r["auc"], r["random_auc"], r["p_value"]) for r in rows
    ]
    # the bright disk is read out of all units together far above chance, as the best unit reads it
    assert all(r["linear_auc"] >= 0.75 and 0 <= r["random_linear_auc"] <= 1 for r in rows), rows
    info = json.loads(Path(cfg.run, PROBE_JSON).read_text())
    assert DetectorRule.from_dict(info["detector_rule"]) == RULE
    assert RULE.text() in html.unescape(Path(cfg.run, REPORT_HTML).read_text())
    concept = run_cli("query", cfg.run, "concept", "disk", check=True).stdout
    assert RULE.text() in concept and "held-out AUC" in concept and "random weights AUC" in concept
    unit = run_cli("query", cfg.run, "unit", rows[0]["unit"], "--json", check=True).stdout
    assert json.loads(unit)["unit"] == rows[0]["unit"]
    # template and group units have maps: localization scores, and overlays beside the frames
    assert all(r["loc_frames"] > 0 and 0 <= r["pointing"] <= 1 for r in rows)
    group = next(r["unit"] for r in rows if r["layer"] == "group1")
    out = Path(cfg.run, "overlays")
    run_cli("query", cfg.run, "unit", group, "--top", "2", "--out", out, check=True)
    assert len(list(out.glob("*-overlay.png"))) == 2
    bad = run_cli("query", cfg.run, "unit", "group1/999", "--out", out)
    assert bad.returncode == 2 and "group1" in bad.stderr and "999" in bad.stderr
