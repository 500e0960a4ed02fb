"""The probe stage's typed configuration (`unitscope probe`, `--config FILE`, `probe.run(ProbeConfig)`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from unitscope.pipeline.damage import DEFAULT_MAX_BAD, MaxBadFrames
from unitscope.probe.detector import ALPHA, MIN_AUC, RANDOM_MARGIN, DetectorRule
from unitscope.probe.ivf_index import IVF_FROM
from unitscope.probe.search import EXACT_MAX_UNITS


class ProbeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run: str = Field(description="run directory (fsspec URL) holding encoder.pt + encoder.json")
    dataset: str = Field(description="dataset directory (fsspec URL) written by `unitscope ingest`")
    concepts: str | None = Field(
        None, description="folder of labelled images: one subfolder per concept, optional none/ of negatives"
    )
    exemplars: str | None = Field(
        None,
        description="folder of a few exemplar images per concept (one subfolder each), expanded into "
        "pseudo-labels by k-NN over the dataset's frame embeddings",
    )
    layers: list[str] | None = Field(None, description="encoder layers to probe (default: all)")
    pool: Literal["max", "mean"] = Field("max", description="spatial pooling of each channel")
    batch_size: int = Field(64, ge=1, description="frames per forward pass")
    device: str | None = Field(None, description="torch device (default: cuda when present, else cpu)")
    workers: int | None = Field(
        None, ge=0, description="Ray tasks in flight (default: cluster CPUs); 0 = in this process, no Ray"
    )
    address: str | None = Field(None, description="Ray cluster address (default: local Ray)")
    max_bad_frames: MaxBadFrames = DEFAULT_MAX_BAD

    select_fraction: float = Field(0.5, gt=0, lt=1, description="share of videos that select units")
    seed: int = Field(0, description="seed of the split, the random-weight control and the shuffles")
    candidates: int = Field(
        50, ge=1, description="units fetched by FAISS per concept, then re-scored exactly"
    )
    keep: int = Field(5, ge=1, description="units per concept written to the catalogue")
    exact_max_units: int = Field(EXACT_MAX_UNITS, ge=1, description="above this, an approximate index")
    frame_index: Literal["exact", "ivf", "auto"] = Field(
        "auto",
        description="frame index: exact scan, approximate IVF (re-ranked exactly), or IVF from ivf_from",
    )
    ivf_from: int = Field(IVF_FROM, ge=1, description="frames from which `auto` builds an IVF index")
    ivf_codes: Literal["pq32", "sq8"] = Field("pq32", description="codes of the IVF index's vectors")
    min_examples: int = Field(
        5, ge=1, description="minimum positives (and negatives) of a concept in each split"
    )
    max_labelled_frames: int = Field(
        200_000, ge=10, description="labelled frames searched at most (whole videos, seeded choice)"
    )

    random_control: bool = Field(True, description="score the same architecture with random weights")
    permutations: int = Field(199, ge=0, description="label shuffles of the permutation null")
    min_auc: float = Field(MIN_AUC, ge=0.5, le=1, description="held-out AUC a detector must reach")
    random_margin: float = Field(
        RANDOM_MARGIN, ge=0, le=0.5, description="AUC a detector must beat random weights' best unit by"
    )
    alpha: float = Field(ALPHA, gt=0, lt=1, description="permutation p-value a detector must reach")

    exemplar_k: int = Field(50, ge=1, description="frames taken per exemplar image from the k-NN search")
    top_frames: int = Field(16, ge=1, description="top-activating frames kept per unit")
    histogram_bins: int = Field(30, ge=2)
    report_units: int = Field(3, ge=1, description="units per concept shown with galleries in the report")
    localize_frames: int = Field(
        40,
        ge=0,
        description="held-out positives per concept (and as many negatives) whose unit maps are "
        "scored against the concept's boxes; 0 = no localization scores",
    )

    @field_validator("layers", mode="before")
    @classmethod
    def _split_layers(cls, v):
        if isinstance(v, str):
            v = [s.strip() for s in v.split(",") if s.strip()]
        return v or None

    @property
    def rule(self) -> DetectorRule:
        """The detector definition with this probe's thresholds (probe/detector.py)."""
        return DetectorRule(min_auc=self.min_auc, random_margin=self.random_margin, alpha=self.alpha)
