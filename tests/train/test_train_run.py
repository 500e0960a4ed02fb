"""In-process training runs (workers=0): the run-directory contract, both objectives, no collapse."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from unitscope.train import augment, shards
from unitscope.train.config import TrainConfig
from unitscope.train.encoder import build_encoder
from unitscope.train.model_io import load_encoder
from unitscope.train.train import run

from tests.train.conftest import TINY

STEPS = 30


@pytest.fixture(scope="module", params=["temporal", "sparse"])
def trained(request, dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"run-{request.param}")
    cfg = TrainConfig(dataset=str(dataset), run=str(out), objective=request.param, workers=0, steps=STEPS,
                      checkpoint_every=10, **TINY)  # fmt: skip
    return cfg, run(cfg)


def _frames(dataset) -> np.ndarray:
    parts = shards.plan_parts(shards.list_shards(str(dataset)), 1)
    ims = [np.array(augment.decode(f.jpg, 32)) for u in parts for f in shards.read_part(u, 0, {})]
    return np.stack(ims)


def test_run_directory_holds_the_contract(trained):
    cfg, result = trained
    runp = Path(cfg.run)
    saved = json.loads((runp / "config.json").read_text())
    assert TrainConfig.model_validate(saved) == cfg
    rows = [json.loads(line) for line in (runp / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, STEPS + 1))
    for r in rows:
        assert {"loss", "lr", "images_per_s"} <= set(r) and np.isfinite(r["loss"])
    assert rows[0]["lr"] < rows[cfg.warmup_steps // 4]["lr"] or cfg.warmup_steps == 0
    assert (runp / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    spec = json.loads((runp / "encoder.json").read_text())
    assert spec["layers"] == [f"conv{i + 1}" for i in range(spec["depth"])] and spec["input_size"] == 32
    ckpts = sorted(p.name for p in (runp / "checkpoints").iterdir())
    assert ckpts == ["latest.json", "step-00000020.pt", "step-00000020.pt.sha256", "step-00000030.pt",
                     "step-00000030.pt.sha256"]  # fmt: skip
    assert result.steps == STEPS and result.start_step == 0 and result.images_per_s > 0


def test_training_moves_the_encoder_without_collapsing_it(trained, dataset):
    """The trained embedding differs from the same encoder's at initialisation (an encoder that never
    trained fails here), sparse reconstruction's loss more than halves (temporal's is too noisy at batch 8
    to say), and the embedding keeps its spread."""
    cfg, _ = trained
    rows = [json.loads(line) for line in (Path(cfg.run) / "metrics.jsonl").read_text().splitlines()]
    first, last = (np.mean([r["loss"] for r in part]) for part in (rows[:5], rows[-5:]))
    if cfg.objective == "sparse":
        assert last < 0.5 * first, (first, last)
    enc = load_encoder(cfg.run)
    start = build_encoder(enc.spec, seed=cfg.seed)
    frames = _frames(dataset)
    with torch.no_grad():
        emb = enc.embed(enc.preprocess(frames))
        moved = (emb - start.embed(start.preprocess(frames))).norm() / emb.norm()
    assert float(moved) > 0.05, float(moved)
    std = torch.nn.functional.normalize(emb, dim=1).std(dim=0)
    assert float((std > 1e-3).float().mean()) >= 0.5
    assert float(std.mean()) >= 0.02
