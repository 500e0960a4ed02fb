"""TensorBoard events next to metrics.jsonl: the same steps and values (loss, lr, images/s) plus the
loader's share of each step, read back with TensorBoard's own reader; `--tensorboard DIR` moves them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from unitscope.train.config import TrainConfig
from unitscope.train.train import run

from tests.train.conftest import TINY


def _scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    acc = EventAccumulator(str(folder))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


@pytest.mark.slow
def test_events_hold_the_metrics_rows(dataset, tmp_path):
    cfg = TrainConfig(dataset=str(dataset), run=str(tmp_path / "run"), objective="temporal", workers=0,
                      steps=6, **{**TINY, "log_every": 2})  # fmt: skip
    run(cfg)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    got = _scalars(tmp_path / "run" / "tb")
    assert set(got) == {"train/loss", "train/lr", "speed/images_per_s", "speed/loader_share"}
    assert [s for s, _ in got["train/loss"]] == [r["step"] for r in rows] == list(range(1, 7))
    for tag, field in (("train/loss", "loss"), ("train/lr", "lr"), ("speed/images_per_s", "images_per_s")):
        assert [v for _, v in got[tag]] == pytest.approx([r[field] for r in rows], rel=1e-6)
    assert all(0 <= v <= 1 for _, v in got["speed/loader_share"])


@pytest.mark.slow
def test_tensorboard_flag_moves_the_events(dataset, tmp_path):
    cfg = TrainConfig(dataset=str(dataset), run=str(tmp_path / "run"), workers=0, steps=2,
                      tensorboard=str(tmp_path / "elsewhere"), **TINY)  # fmt: skip
    run(cfg)
    assert not (tmp_path / "run" / "tb").exists()
    assert [s for s, _ in _scalars(tmp_path / "elsewhere")["train/loss"]] == [1, 2]
