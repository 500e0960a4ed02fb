"""Temporal coherence grouping: frame pairs never cross videos or gaps, and a unit's partner is the unit
that carries on, in the next frame, what it responded to."""

from __future__ import annotations

import torch
from unitscope.train.objectives import coherence


def test_pairs_stay_within_a_video_and_the_gap():
    stamps = [("a", 0.0), ("a", 0.2), ("a", 0.4), ("a", 1.4), ("b", 1.6), ("b", 1.8)]
    assert coherence.pair_index(stamps, 0.5, 10).tolist() == [[0, 1], [1, 2], [4, 5]]
    assert coherence.pair_index(stamps, 0.1, 10).shape == (0, 2)
    assert coherence.pair_index(stamps, 0.5, 2).tolist() == [[0, 1], [1, 2]]  # spread, capped


def test_partner_is_the_unit_that_follows_in_the_next_frame():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(401, 6, generator=g)
    x[1:, 4] = x[:-1, 1] + 0.1 * x[1:, 4]  # unit 4 now shows what unit 1 saw a frame earlier
    x[1:, 2] = x[:-1, 5] + 0.1 * x[1:, 2]
    total = coherence.lagged_sums(x[:-1], x[1:])
    halves = [coherence.lagged_sums(x[:200], x[1:201]), coherence.lagged_sums(x[200:-1], x[201:])]
    summed = [sum(h[i] for h in halves) for i in range(4)]  # what ranks add up gives the same answer
    for sums in (total, summed):
        p = coherence.partners(*sums, 2)
        assert p[:, 0].tolist() == list(range(6))
        assert p[1, 1] == 4 and p[2, 1] == 5
        # 4 and 5 would repeat the groups of 1 and 2 (each is the other's partner): they take their next
        assert p[4, 1] != 1 and p[5, 1] != 2
        assert len({frozenset(row) for row in p.tolist()}) == 6


def test_no_two_units_pool_the_same_group():
    x = torch.randn(300, 8, generator=torch.Generator().manual_seed(2))
    x[1:, 1::2] = x[:-1, 0::2] + 0.1 * x[1:, 1::2]  # four mutual pairs, (0, 1), (2, 3), ...
    for group in (2, 3):
        p = coherence.partners(*coherence.lagged_sums(x[:-1], x[1:]), group)
        assert p.shape == (8, group) and p[:, 0].tolist() == list(range(8))
        assert len({frozenset(row) for row in p.tolist()}) == 8
        assert all(len(set(row)) == group for row in p.tolist())


def test_a_silent_unit_gets_partners_without_nan():
    x = torch.randn(50, 4, generator=torch.Generator().manual_seed(1))
    x[:, 3] = 0.0
    p = coherence.partners(*coherence.lagged_sums(x[:-1], x[1:]), 3)
    assert p.shape == (4, 3) and p[:, 0].tolist() == [0, 1, 2, 3] and (p < 4).all()
