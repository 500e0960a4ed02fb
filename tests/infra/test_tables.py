"""The concept table prints chance beside accuracy and localization beside its two baselines."""

from __future__ import annotations

from unitscope.infra.tables import concept_table, ranked_table
from unitscope.probe.detector import DetectorRule


def test_concept_table_has_chance_and_localization_columns():
    row = {"concept": "face", "label_source": "dataset", "unit": "group1/3", "auc": 0.82, "accuracy": 0.83,
           "chance": 0.82, "random_auc": 0.55, "p_value": 0.005, "linear_auc": 0.9, "random_linear_auc": 0.7,
           "is_detector": True, "pointing": 0.9, "centre_pointing": 0.4, "random_pointing": 0.2, "iou": 0.11,
           "centre_iou": 0.05, "random_iou": float("nan"), "rank": 1, "select_auc": 0.8,
           "aliases": ["group1/7"]}  # fmt: skip
    text = concept_table([row], DetectorRule())
    header, line = text.splitlines()[:2]
    for name in ("chance", "centre pointing", "random pointing", "IoU", "centre IoU", "random IoU"):
        assert name in header
    assert "0.820" in line and "0.900" in line and "0.400" in line and "nan" not in line
    assert "majority class" in text  # the legend says what chance and pointing are
    assert "group1/7" in ranked_table([row], DetectorRule())  # the aliases of a ranked unit
