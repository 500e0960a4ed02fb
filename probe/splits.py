"""The selection / evaluation split of labelled frames, by video, deterministic.

Frames of one video are near-duplicates, so a unit chosen on some frames of a video and scored on
others would be scored on what it was chosen for. Whole videos (or, for image folders, whole images)
go to one side: the groups are ordered by a seeded hash and the first `select_fraction` of them
select units and thresholds; the rest report the scores. Image folders are split per subfolder.
"""

from __future__ import annotations

import hashlib

import numpy as np

from unitscope.core.errors import InputError


def _rank_key(group: str, seed: int) -> str:
    return hashlib.sha1(f"{seed}:{group}".encode()).hexdigest()


def select_groups(groups: list[str] | np.ndarray, select_fraction: float, seed: int) -> set[str]:
    """The groups (videos) whose frames form the selection split."""
    unique = sorted(set(map(str, groups)), key=lambda g: _rank_key(g, seed))
    if len(unique) < 2:
        raise InputError(
            f"the labelled frames come from {len(unique)} video(s); splitting into selection and "
            "evaluation sets by video needs at least 2 — probe a dataset with more labelled videos"
        )
    n_select = min(len(unique) - 1, max(1, round(select_fraction * len(unique))))
    return set(unique[:n_select])


def split_mask(
    groups: list[str] | np.ndarray, select_fraction: float, seed: int, strata: list[str] | None = None
) -> np.ndarray:
    """Boolean mask over frames: True for the selection split, False for the evaluation split.

    With `strata` (e.g. the subfolder of each image of a concept folder), each stratum is split on its
    own, so every concept has examples on both sides."""
    if strata is None:
        chosen = select_groups(groups, select_fraction, seed)
    else:
        by_stratum: dict[str, list[str]] = {}
        for g, s in zip(groups, strata, strict=True):
            by_stratum.setdefault(str(s), []).append(str(g))
        chosen = set().union(*(select_groups(gs, select_fraction, seed) for gs in by_stratum.values()))
    return np.fromiter((str(g) in chosen for g in groups), dtype=bool, count=len(groups))
