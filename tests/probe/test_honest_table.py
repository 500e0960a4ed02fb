"""The catalogue does not mislead: identical units are one unit, and JSON never holds NaN or Infinity."""

from __future__ import annotations

import json

import numpy as np
from unitscope.probe.query.catalog_view import _clean
from unitscope.probe.search import UnitIndex
from unitscope.probe.selection import select_and_evaluate


def test_units_with_identical_responses_are_ranked_once_with_aliases():
    rng = np.random.default_rng(0)
    y = rng.random(400) < 0.3
    signal = y + rng.normal(0, 0.5, 400)
    acts = rng.normal(0, 1, (400, 12)).astype(np.float32)
    for u in (3, 7, 9):  # one detector, present three times (e.g. two groups of the same members)
        acts[:, u] = signal
    acts[:, 5] = y + rng.normal(0, 0.9, 400)  # a weaker, different detector
    sel = np.arange(400) < 200
    out = select_and_evaluate(UnitIndex(acts[sel]), acts[~sel], y[sel], y[~sel], candidates=12, keep=3)
    assert [s.unit for s in out][:2] == [3, 5]
    assert out[0].aliases == [7, 9] and out[1].aliases == []
    assert len({s.unit for s in out}) == 3 and not {7, 9} & {s.unit for s in out}


def test_json_rows_have_no_nan_or_infinity_and_say_why():
    row = {"unit": "kmeans1/3", "threshold": float("inf"), "p_value": float("nan"), "pointing": float("nan"),
           "auc": 0.7}  # fmt: skip
    clean = _clean(row)
    text = json.dumps(clean, allow_nan=False)  # raises on NaN / Infinity
    assert json.loads(text)["threshold"] is None and clean["auc"] == 0.7
    assert set(clean["why_null"]) == {"threshold", "p_value", "pointing"}
    assert "never calls a frame positive" in clean["why_null"]["threshold"]
    assert "why_null" not in _clean({"auc": 0.5})
