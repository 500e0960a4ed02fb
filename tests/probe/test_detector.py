"""The detector definition: one rule, its thresholds stated wherever it is applied."""

from __future__ import annotations

import math

import pytest
from unitscope.probe.config import ProbeConfig
from unitscope.probe.detector import DetectorRule


@pytest.mark.parametrize(
    ("auc", "random_auc", "p", "expected"),
    [
        (0.85, 0.65, 0.005, True),
        (0.80, 0.65, 0.01, True),  # every threshold is inclusive
        (0.79, 0.55, 0.005, False),  # below the AUC bar
        (0.90, 0.80, 0.005, False),  # within 0.15 of random weights
        (0.90, 0.60, 0.02, False),  # not significant
        (0.90, math.nan, 0.005, False),  # no random control: never a detector
        (math.nan, 0.5, 0.005, False),
        (0.90, 0.60, None, False),
    ],
)
def test_default_rule(auc, random_auc, p, expected):
    assert DetectorRule().holds(auc, random_auc, p) is expected


def test_thresholds_are_configurable_and_stated():
    rule = DetectorRule(min_auc=0.7, random_margin=0.05, alpha=0.05)
    assert rule.holds(0.72, 0.66, 0.04) and not DetectorRule().holds(0.72, 0.66, 0.04)
    assert all(s in rule.text() for s in ("0.70", "0.05", "p <= 0.05"))
    assert DetectorRule.from_dict(rule.as_dict()) == rule
    assert DetectorRule.from_dict(None) == DetectorRule()


def test_probe_config_carries_the_rule():
    cfg = ProbeConfig(run="r", dataset="d", min_auc=0.75, random_margin=0.1, alpha=0.02)
    assert cfg.rule == DetectorRule(min_auc=0.75, random_margin=0.1, alpha=0.02)
    assert ProbeConfig(run="r", dataset="d").rule == DetectorRule()
