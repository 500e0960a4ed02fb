"""The selection and evaluation splits are by video, deterministic and never empty."""

import numpy as np
import pytest
from unitscope.probe.splits import split_mask

from unitscope.core.errors import InputError


def test_splits_share_no_video():
    videos = np.repeat([f"v{i}" for i in range(30)], 7)
    sel = split_mask(videos, 0.5, seed=3)
    assert not set(videos[sel]) & set(videos[~sel])
    assert set(videos[sel]) | set(videos[~sel]) == set(videos)
    assert 10 <= len(set(videos[sel])) <= 20
    np.testing.assert_array_equal(sel, split_mask(list(videos), 0.5, seed=3))
    assert not np.array_equal(sel, split_mask(videos, 0.5, seed=4))


def test_two_videos_split_one_each_and_one_is_an_error():
    sel = split_mask(["a", "a", "b"], 0.9, seed=0)
    assert sel.sum() in (1, 2) and len({("a", "a", "b")[i] for i in np.flatnonzero(sel)}) == 1
    with pytest.raises(InputError, match="at least 2"):
        split_mask(["a", "a"], 0.5, seed=0)


def test_strata_are_split_separately():
    groups = [f"img{i}" for i in range(12)]
    strata = ["cat"] * 4 + ["none"] * 8
    sel = split_mask(groups, 0.5, seed=0, strata=strata)
    assert sel[:4].sum() == 2 and sel[4:].sum() == 4
