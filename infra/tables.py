"""The text tables the CLI prints, in one vocabulary: the same catalogue field has the same header in the
demo, probe and query tables, and every table that says "detector" states the rule it applied."""

from __future__ import annotations

import math
from typing import Any

from unitscope.probe.detector import DetectorRule

HEADERS = {
    "unit": "unit",
    "concept": "concept",
    "label_source": "labels",
    "rank": "rank",
    "select_auc": "selection AUC",
    "auc": "held-out AUC",
    "accuracy": "held-out accuracy",
    "random_auc": "random weights AUC",
    "random_unit": "random weights unit",
    "p_value": "p",
    "linear_auc": "linear probe AUC",
    "random_linear_auc": "random weights linear AUC",
    "is_detector": "detector",
    "chance": "chance",
    "pointing": "pointing",
    "centre_pointing": "centre pointing",
    "random_pointing": "random pointing",
    "iou": "IoU",
    "centre_iou": "centre IoU",
    "random_iou": "random IoU",
    "aliases": "same as",
}
LOCALIZATION = ["pointing", "centre_pointing", "random_pointing", "iou", "centre_iou", "random_iou"]
CONCEPT_COLUMNS = ["concept", "label_source", "unit", "auc", "accuracy", "chance", "random_auc", "p_value",
                   "linear_auc", "random_linear_auc", "is_detector", *LOCALIZATION]  # fmt: skip
RANKED_COLUMNS = ["rank", "unit", "select_auc", "auc", "accuracy", "chance", "random_auc", "p_value",
                  "is_detector", "pointing", "iou", "aliases"]  # fmt: skip


def cell(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if not math.isfinite(v):
            return "-"
        return f"{v:.4f}" if v < 0.01 else f"{v:.3f}"
    if isinstance(v, list):
        return ",".join(map(str, v)) or "-"
    return "-" if v is None else str(v)


def table(rows: list[dict[str, Any]], cols: list[str], headers: dict[str, str] | None = None) -> str:
    """A plain text table of `cols` of `rows` under their shared headers, columns padded to fit."""
    names = {**HEADERS, **(headers or {})}
    cells = [[names.get(c, c) for c in cols]] + [[cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines) if rows else "(none)"


LEGEND = (
    "chance: held-out accuracy of always answering the majority class; pointing: share of held-out "
    "positives whose map maximum is in a concept box; IoU: NetDissect IoU at the unit's top-0.5% quantile"
)


def concept_table(rows: list[dict[str, Any]], rule: DetectorRule) -> str:
    """One row per concept: its best unit (chosen on the selection half, scored on the held-out half),
    the random-weights control, p, the linear probe on all units, whether the unit is a detector, and
    where it fires: pointing game and IoU against the concept's boxes beside the centre prior and the
    random control ("-": no boxes)."""
    rows = sorted(rows, key=lambda r: (r.get("label_source") or "", r["concept"]))
    return f"{table(rows, CONCEPT_COLUMNS, {'unit': 'best unit'})}\n{rule.text()}\n{LEGEND}"


def ranked_table(rows: list[dict[str, Any]], rule: DetectorRule) -> str:
    """A concept's units in rank order: ranked by selection AUC, scored on the held-out half."""
    return f"{table(rows, RANKED_COLUMNS)}\nranked by selection AUC (the selection half); {rule.text()}"
