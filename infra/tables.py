"""The text tables the CLI prints, in one vocabulary: the same catalogue field has the same header in the
demo, probe and query tables, and every table that says "detector" states the rule it applied."""

from __future__ import annotations

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
}
CONCEPT_COLUMNS = ["concept", "label_source", "unit", "auc", "accuracy", "random_auc", "p_value", "linear_auc",
                   "random_linear_auc", "is_detector"]  # fmt: skip
RANKED_COLUMNS = ["rank", "unit", "select_auc", "auc", "accuracy", "random_auc", "p_value", "is_detector"]


def cell(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4f}" if v < 0.01 else f"{v:.3f}"
    return "-" if v is None else str(v)


def table(rows: list[dict[str, Any]], cols: list[str], headers: dict[str, str] | None = None) -> str:
    """A plain text table of `cols` of `rows` under their shared headers, columns padded to fit."""
    names = {**HEADERS, **(headers or {})}
    cells = [[names.get(c, c) for c in cols]] + [[cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines) if rows else "(none)"


def concept_table(rows: list[dict[str, Any]], rule: DetectorRule) -> str:
    """One row per concept: its best unit (chosen on the selection half, scored on the held-out half),
    the random-weights control, p, the linear probe on all units, and whether the unit is a detector."""
    rows = sorted(rows, key=lambda r: (r.get("label_source") or "", r["concept"]))
    return f"{table(rows, CONCEPT_COLUMNS, {'unit': 'best unit'})}\n{rule.text()}"


def ranked_table(rows: list[dict[str, Any]], rule: DetectorRule) -> str:
    """A concept's units in rank order: ranked by selection AUC, scored on the held-out half."""
    return f"{table(rows, RANKED_COLUMNS)}\nranked by selection AUC (the selection half); {rule.text()}"
