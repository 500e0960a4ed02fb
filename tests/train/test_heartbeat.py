"""No stage the demo runs stays silent: K-means sampling and patch cutting, its unit grouping, the probe's
activations and its scoring each print a progress line whenever the heartbeat's interval has passed."""

from __future__ import annotations

import pytest
from unitscope.probe.config import ProbeConfig
from unitscope.probe.probe import run as probe
from unitscope.train.config import TrainConfig
from unitscope.train.train import run as train

from tests.probe.tiny_dataset import write_dataset
from unitscope.core import heartbeat

KMEANS = {"objective": "kmeans", "input_size": 32, "width": 24, "patch_size": 6, "patches_per_scale": 6,
          "workers": 0, "steps": 2}  # fmt: skip


def test_heartbeat_prints_only_after_its_interval(capsys):
    beat = heartbeat.Heartbeat("stage", every_s=3600)
    assert not beat.tick("never")
    beat.every_s = 0
    assert beat.tick(lambda: "now")
    assert capsys.readouterr().err.startswith("stage: now (")


@pytest.mark.slow
def test_every_long_loop_of_train_and_probe_reports(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(heartbeat, "EVERY_S", 0.0)  # every step of every loop prints
    ds = write_dataset(tmp_path / "ds")
    train(TrainConfig(dataset=str(ds), run=str(tmp_path / "run"), **KMEANS))
    err = capsys.readouterr().err
    for line in ("train: kmeans: read", "train: kmeans: cut patches", "train: group1: matched"):
        assert line in err
    probe(ProbeConfig(run=str(tmp_path / "run"), dataset=str(ds), workers=0, permutations=19, min_examples=2))
    err = capsys.readouterr().err
    for line in ("probe: activations:", "probe: scoring concept", "probe: permutation null:"):
        assert line in err
