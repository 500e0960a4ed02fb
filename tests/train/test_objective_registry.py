"""The objectives registry: config defaults, validation and the CLI's help come from it, and a new
objective registered from outside the package trains end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn
from unitscope.infra.cli import build_parser
from unitscope.infra.options import build_config
from unitscope.train.config import TrainConfig
from unitscope.train.objectives import registry
from unitscope.train.train import run

from tests.train.conftest import TINY
from unitscope.core.errors import ConfigError


class MeanActivity(nn.Module):
    """A toy objective: pull the pooled embedding of each view towards zero. Nothing sensible is learned;
    it only has to go through every part of training that a real objective does."""

    def forward(self, encoder, views):
        loss = encoder.embed(views[0]).pow(2).mean()
        return {"loss": loss, "activity": loss.detach()}


@pytest.fixture
def toy():
    toy = registry.register(
        registry.Objective(
            name="toy", help="a test objective", arch="conv4", width=8, steps=3,
            build=lambda config, encoder: MeanActivity(),
        )
    )  # fmt: skip
    yield toy
    registry._REGISTRY.pop("toy")


def test_the_packages_objectives_are_found_with_their_defaults():
    assert {"temporal", "sparse", "kmeans"} <= set(registry.names())
    cfg = TrainConfig(dataset="d", run="r", objective="sparse")
    sparse = registry.get("sparse")
    assert (cfg.arch, cfg.width, cfg.steps) == (sparse.arch, sparse.width, sparse.steps)
    assert (
        registry.get("kmeans").fit
        and registry.fit_function(registry.get("kmeans")).__name__ == "kmeans_worker"
    )
    with pytest.raises(ValueError, match=r"does not go with objective .kmeans."):
        TrainConfig(dataset="d", run="r", objective="kmeans", arch="conv4")


def test_a_registered_objective_trains_with_its_own_defaults(toy, dataset, tmp_path):
    cfg = TrainConfig(dataset=str(dataset), run=str(tmp_path), objective="toy", workers=0, **TINY)
    assert (cfg.arch, cfg.steps, cfg.view_size) == ("conv4", 3, cfg.input_size)
    result = run(cfg)
    rows = [json.loads(line) for line in (Path(tmp_path) / "metrics.jsonl").read_text().splitlines()]
    assert result.steps == 3 and [r["step"] for r in rows] == [1, 2, 3]
    assert all("activity" in r for r in rows)
    assert torch.load(tmp_path / "encoder.pt", weights_only=True)


def test_the_cli_lists_and_accepts_what_is_registered(toy, capsys):
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--help"])
    listed = capsys.readouterr().out
    for name in registry.names():
        assert f"  {name} " in listed
    assert "a test objective" in listed
    args = parser.parse_args(["train", "d", "r", "--objective", "toy"])
    assert build_config(TrainConfig, args, dataset="d", run="r").objective == "toy"
    with pytest.raises(ConfigError, match=r"unknown objective .nope.: choose one of .*toy"):
        build_config(TrainConfig, parser.parse_args(["train", "d", "r", "--objective", "nope"]))
