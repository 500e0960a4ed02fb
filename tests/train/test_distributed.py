"""Two Ray Train workers on CPU (gloo DDP) over uneven shards: both finish, and see disjoint data."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest
from unitscope.train.config import TrainConfig
from unitscope.train.train import run

from tests.train.conftest import TINY

pytestmark = pytest.mark.slow


def test_two_ray_workers_train_on_uneven_shards_with_disjoint_data(ray_local, dataset, tmp_path):
    steps = 12
    cfg = TrainConfig(dataset=str(dataset), run=str(tmp_path / "run"), workers=2, steps=steps, checkpoint_every=6,
                      record_keys=True, **TINY)  # fmt: skip
    result = run(cfg)
    assert result.steps == steps
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, steps + 1))
    per_rank: dict[int, dict[int, set[str]]] = {}
    for rank in range(2):
        lines = (tmp_path / "run" / "keys" / f"rank-{rank}.txt").read_text().splitlines()
        assert len(lines) == steps * cfg.rank_batch  # equal batch counts on both ranks
        by_epoch: dict[int, set[str]] = defaultdict(set)
        for line in lines:
            epoch, key = line.split()
            by_epoch[int(epoch)].add(key)
        per_rank[rank] = by_epoch
    shared_epochs = set(per_rank[0]) & set(per_rank[1])
    assert 0 in shared_epochs
    for epoch in shared_epochs:
        assert not per_rank[0][epoch] & per_rank[1][epoch], f"ranks saw the same frames in epoch {epoch}"
    assert (tmp_path / "run" / "encoder.pt").exists()


def test_kmeans_fits_over_two_ray_workers(ray_local, dataset, tmp_path):
    """Each rank cuts patches from its own shards; moments and Lloyd sums are added over the ranks."""
    import torch
    from unitscope.train.model_io import load_encoder

    cfg = TrainConfig(dataset=str(dataset), run=str(tmp_path / "run"), objective="kmeans", workers=2, steps=3,
                      width=12, input_size=32, patch_size=6, patches_per_scale=4)  # fmt: skip
    assert run(cfg).steps == 3
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]
    enc = load_encoder(cfg.run)
    assert torch.allclose(enc.centroids.norm(dim=1), torch.ones(12), atol=1e-4)
    assert not torch.allclose(enc.whiten, torch.eye(len(enc.whiten)))  # fitted from both ranks' patches
