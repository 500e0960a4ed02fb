"""Scale profiles: `--profile gpu` fills the GPU settings, flags given win, and it runs (tiny) on CPU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from unitscope.infra.demo import DemoConfig
from unitscope.train.config import TrainConfig
from unitscope.train.profiles import DEMO_CORPUS, PROFILES
from unitscope.train.train import run


def test_gpu_profile_fills_what_is_not_given():
    cfg = TrainConfig(dataset="d", run="r", profile="gpu")
    assert {k: getattr(cfg, k) for k in PROFILES["gpu"]} == PROFILES["gpu"]
    assert cfg.width == 128 and cfg.objective == "temporal" and cfg.arch == "conv4"
    mine = TrainConfig(dataset="d", run="r", profile="gpu", width=64, steps=10)
    assert (mine.width, mine.steps, mine.batch_size) == (64, 10, 256)
    again = TrainConfig.model_validate_json(mine.model_dump_json())  # config.json round trip
    assert again == mine


@pytest.mark.slow
def test_profiles_are_validated():
    with pytest.raises(ValueError, match="profile"):
        TrainConfig(dataset="d", run="r", profile="tpu")
    with pytest.raises(ValueError, match="multiple of"):
        TrainConfig(dataset="d", run="r", profile="gpu", workers=3)  # 256 does not split over 3
    auto = TrainConfig(dataset="d", run="r", profile="auto")
    assert auto.profile == ("gpu" if torch.cuda.is_available() else "cpu")
    assert DemoConfig(profile="gpu").train_videos == DEMO_CORPUS["gpu"]["train_videos"] == 128
    assert DemoConfig(profile="cpu", train_videos=5).train_videos == 5


@pytest.mark.slow
def test_gpu_profile_smoke_run_on_cpu(dataset, tmp_path):
    cfg = TrainConfig(dataset=str(dataset), run=str(tmp_path / "run"), profile="gpu", workers=0, steps=3,
                      width=8, batch_size=8, input_size=32, loader_workers=1, shuffle_buffer=16, use_gpu=False)  # fmt: skip
    result = run(cfg)
    saved = json.loads(Path(cfg.run, "config.json").read_text())
    assert result.steps == 3 and saved["profile"] == "gpu" and saved["warmup_steps"] == 300
    assert Path(cfg.run, "encoder.pt").is_file()


@pytest.mark.slow
def test_cli_names_a_bad_profile(tmp_path):
    from tests.helpers import run_cli

    proc = run_cli("train", str(tmp_path), str(tmp_path / "run"), "--profile", "tpu")
    assert proc.returncode == 2 and "--profile" in proc.stderr and "gpu" in proc.stderr
