"""What "detector" means, in one place: every output that prints the word (catalogue, report, demo table,
query, gallery, README, benchmarks) takes it from here, and states the thresholds it used.

A unit is a detector of a concept when, on held-out videos (units chosen on the other half):
- its ROC AUC is at least `min_auc` (0.80);
- it beats the same architecture with random weights (that network's best unit for the same concept,
  chosen the same way) by at least `random_margin` (0.15): random networks have concept-like units too;
- its permutation p-value is at most `alpha` (0.01).
Without a random control, or with a NaN score, nothing is a detector.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field

MIN_AUC = 0.80
RANDOM_MARGIN = 0.15
ALPHA = 0.01


class DetectorRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    min_auc: float = Field(MIN_AUC, ge=0.5, le=1, description="held-out AUC a detector must reach")
    random_margin: float = Field(
        RANDOM_MARGIN, ge=0, le=0.5, description="AUC a detector must beat random weights' best unit by"
    )
    alpha: float = Field(ALPHA, gt=0, lt=1, description="permutation p-value a detector must reach")

    def holds(self, auc: float | None, random_auc: float | None, p_value: float | None) -> bool:
        if any(v is None or not math.isfinite(v) for v in (auc, random_auc, p_value)):
            return False
        return bool(auc >= self.min_auc and auc >= random_auc + self.random_margin and p_value <= self.alpha)

    def text(self) -> str:
        """The rule in words, with its thresholds (printed under every table that says 'detector')."""
        return (
            f"detector = held-out AUC >= {self.min_auc:.2f}, at least {self.random_margin:.2f} above the "
            f"random-weights control's best unit, and permutation p <= {self.alpha:g}"
        )

    def as_dict(self) -> dict:
        return {**self.model_dump(), "text": self.text()}

    @classmethod
    def from_dict(cls, d: dict | None) -> DetectorRule:
        """The rule a probe recorded (probe.json), without its text; the defaults for older probes."""
        return cls(**{k: v for k, v in (d or {}).items() if k in cls.model_fields})
