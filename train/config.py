"""TrainConfig: every setting of a training run, validated, and recorded in RUN/config.json."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from unitscope.pipeline.damage import DEFAULT_MAX_BAD, MaxBadFrames
from unitscope.train import profiles
from unitscope.train.models import registry as models
from unitscope.train.objectives import registry

FAMILY = models.archs()  # arch -> (block, default depth)
ARCHS = tuple(FAMILY)
LOSS_ARCHS = tuple(models.archs(fitted=False))  # what a loss can train


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(description="dataset directory (fsspec URL) written by `unitscope ingest`")
    run: str = Field(description="run directory (fsspec URL) for checkpoints, metrics and the encoder")
    objective: str = Field("temporal", description="the unsupervised objective (train/objectives/)")
    arch: str | None = Field(
        None, description=f"encoder family member, one of {', '.join(ARCHS)} (default: per objective)"
    )
    width: int | None = Field(
        None,
        ge=4,
        le=8192,
        description="channels of the first layer (doubles per layer); kmeans: centroids (default: per "
        "objective)",
    )
    depth: int | None = Field(None, ge=1, le=8, description="number of layers (default: the arch's)")
    input_size: int = Field(64, ge=16, le=512, description="square input side in pixels")
    view_size: int | None = Field(
        None,
        ge=8,
        le=512,
        description="side of the training views in pixels (default: temporal input_size / 2 - parts of "
        "the frame at about the scale the probe sees them whole, 4x cheaper; sparse input_size)",
    )
    steps: int | None = Field(
        None, ge=1, description="optimisation steps; kmeans: Lloyd iterations (default: per objective)"
    )
    batch_size: int = Field(64, ge=2, description="global batch size, split evenly over the workers")
    lr: float = Field(2e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    warmup_steps: int = Field(30, ge=0)
    # temporal objective
    temperature: float = Field(0.2, gt=0)
    pair_max_gap_s: float = Field(0.5, gt=0, description="positives: frames of one video this close")
    video_group: int = Field(
        16, ge=1, description="pairs per video put together in a batch, anchors > pair_max_gap_s apart"
    )
    crop_scale_min: float = Field(0.35, gt=0, le=1)
    motion_crops: float = Field(
        1.0,
        ge=0,
        le=1,
        description="fraction of pairs whose views are cut around what moved (train/motion.py)",
    )
    # sparse objective
    sparsity: float = Field(0.1, ge=0, description="weight of the L2-pooled sparsity penalty")
    # kmeans objective (train/objectives/kmeans.py)
    patch_size: int = Field(12, ge=3, le=64, description="kmeans: patch side in pixels")
    patch_stride: int = Field(1, ge=1, le=8, description="kmeans: stride of the match at probe time")
    patch_colour: bool = Field(False, description="kmeans: RGB patches (default grey)")
    kmeans_frames: int = Field(3000, ge=1, description="kmeans: frames whose patches are clustered")
    patches_per_scale: int = Field(12, ge=1, description="kmeans: patches per frame and pyramid level")
    whiten_eps: float = Field(0.1, gt=0, description="kmeans: ZCA regulariser on normalised patches")
    kmeans_group: int = Field(
        2,
        ge=1,
        le=16,
        description="kmeans: units in each `group1` unit, a unit and its most temporally "
        "coherent partners (1: no group layer)",
    )
    group_frames: int = Field(
        600, ge=2, description="kmeans: sampled frames (in pairs) that choose the groups"
    )
    # execution
    workers: int = Field(1, ge=0, description="Ray Train workers; 0 trains in this process without Ray")
    loader_workers: int = Field(2, ge=0, description="DataLoader worker processes per training worker")
    max_bad_frames: MaxBadFrames = DEFAULT_MAX_BAD
    loader_nice: int = Field(
        10,
        ge=0,
        le=19,
        description="niceness added to the loader workers: the training step's threads keep the cores, the "
        "loader fills their idle time (and gets all of it when training waits for data); 0 = equal priority",
    )
    shuffle_buffer: int = Field(512, ge=1)
    use_gpu: bool | None = Field(None, description="default: use CUDA when it is available")
    max_failures: int = Field(
        3,
        ge=0,
        description="Ray Train: restarts of the worker group after a worker or its node dies, each from RUN's "
        "latest checkpoint; 0 = the first failure ends the run",
    )
    resource_wait_s: float = Field(
        600.0,
        gt=0,
        description="Ray Train: how long each (re)start of the workers waits for their CPUs/GPUs to be free "
        "(a lost node replaced) before the run ends with the --resume command that continues it",
    )
    checkpoint_every: int = Field(100, ge=1)
    keep_checkpoints: int = Field(2, ge=1)
    log_every: int = Field(10, ge=1)
    resume: bool = False
    seed: int = 0
    tensorboard: str | None = Field(None, description="folder for TensorBoard events (local; default RUN/tb)")
    record_keys: bool = Field(False, description="write the sample keys each rank trained on to RUN/keys/")
    address: str | None = None
    profile: Literal["cpu", "gpu", "auto"] | None = Field(
        None, description="scale profile whose settings fill what is not given (train/profiles.py)"
    )

    @model_validator(mode="before")
    @classmethod
    def _profile(cls, values: Any) -> Any:
        if isinstance(values, dict) and values.get("profile") is not None:
            values = {
                **profiles.apply(values["profile"], values),
                "profile": profiles.resolve(values["profile"]),
            }
        return values

    @field_validator("objective")
    @classmethod
    def _known_objective(cls, name: str) -> str:
        registry.get(name)  # a ValueError naming the choices
        return name

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        objective = registry.get(self.objective)
        if self.arch is None:
            self.arch = objective.arch
        if self.arch not in ARCHS:
            raise ValueError(f"unknown arch {self.arch!r}: choose one of {', '.join(ARCHS)}")
        allowed = objective.archs or LOSS_ARCHS
        if self.arch not in allowed:
            raise ValueError(
                f"arch {self.arch!r} does not go with objective {self.objective!r}, which trains "
                f"{', '.join(allowed)} (leave --arch out to get the objective's own)"
            )
        if self.width is None:
            self.width = objective.width
        if self.steps is None:
            self.steps = objective.steps
        if self.objective == "kmeans" and self.patch_size > self.input_size // 4:
            raise ValueError(
                f"patch_size {self.patch_size} is larger than the smallest pyramid level (input_size / 4 = "
                f"{self.input_size // 4}): use a patch_size of at most {self.input_size // 4}"
            )
        if self.objective == "kmeans" and self.kmeans_group > self.width:
            raise ValueError(
                f"kmeans_group {self.kmeans_group} is more than the {self.width} units: lower it"
            )
        if self.view_size is None:
            self.view_size = max(8, round(self.input_size * objective.view_fraction))
        depth = self.depth or FAMILY[self.arch][1]
        if self.view_size >> depth < 1:
            raise ValueError(
                f"view_size {self.view_size} is too small for the {depth} pooling layers of {self.arch}: "
                f"use a view_size of at least {2**depth}"
            )
        ranks = max(self.workers, 1)
        if self.batch_size % ranks:
            raise ValueError(
                f"batch_size {self.batch_size} does not split evenly over {ranks} workers: "
                f"use a multiple of {ranks}"
            )
        if self.batch_size // ranks < 2:
            raise ValueError(
                f"batch_size {self.batch_size} leaves fewer than 2 samples per worker over {ranks} "
                "workers: use at least 2 per worker"
            )
        return self

    @property
    def ranks(self) -> int:
        return max(self.workers, 1)

    @property
    def rank_batch(self) -> int:
        return self.batch_size // self.ranks
