"""The job plan: which videos go into which shard. Deterministic (sorted inputs, packed in order by their
estimated frame counts from a container probe), stored in the dataset so a resumed job repeats it exactly."""

from __future__ import annotations

import json
import logging
import math
from concurrent.futures import ThreadPoolExecutor

import av
from pydantic import BaseModel, ConfigDict, ValidationError
from unitscope.pipeline import schema, tags
from unitscope.pipeline.config import IngestConfig
from unitscope.pipeline.decode import DecodeSettings
from unitscope.pipeline.sources import Source

from unitscope.core import storage
from unitscope.core.errors import ConfigError, InputError

log = logging.getLogger(__name__)

log = logging.getLogger(__name__)

PLAN_FILE = "manifest/plan.json"
PROBE_BLOCK = 2**20  # bytes read ahead when probing a remote file's header


class VideoRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    uri: str
    rel: str
    est_frames: int = 1
    tags: tuple[str, ...] | None = None  # clip-level tags from --labels (None: not tagged), on every frame

    @property
    def video_id(self) -> str:
        return schema.video_id(self.rel)


class ShardSpec(BaseModel):
    """Everything a worker needs to build one shard; small and picklable."""

    model_config = ConfigDict(extra="forbid")
    index: int
    out: str
    videos: list[VideoRef]
    settings: DecodeSettings


class Skipped(BaseModel):
    uri: str
    rel: str
    reason: str


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid")
    src: str
    settings: dict
    shards: list[list[VideoRef]]
    skipped: list[Skipped] = []

    def est_frames(self, index: int) -> int:
        return sum(v.est_frames for v in self.shards[index])


def estimate_frames(uri: str, cfg: IngestConfig) -> int:
    """Frames this video will give, from its container header; 1 when it cannot be probed (the worker
    then records why it fails)."""
    try:
        fs, path = storage.url_to_fs(uri)
        opener = fs.open(path, "rb") if storage.is_local(fs) else fs.open(path, "rb", block_size=PROBE_BLOCK)
        with opener as f, av.open(f, metadata_errors="ignore") as c:
            s = c.streams.video[0]
            rate = float(s.average_rate or s.guessed_rate or 25)
            if s.duration is not None and s.time_base is not None:
                seconds = float(s.duration * s.time_base)
            else:
                seconds = (c.duration or 0) / 1e6
            frames = s.frames or seconds * rate
            est = frames if cfg.fps == 0 else min(frames, seconds * cfg.fps + 1)
    except Exception:  # any probe failure: the worker decodes it and records the real error
        return 1
    if cfg.max_frames:
        est = min(est, cfg.max_frames)
    return max(1, math.ceil(est))


def pack(videos: list[VideoRef], cfg: IngestConfig) -> list[list[VideoRef]]:
    """Group videos in order so each group's estimate stays within the shard caps (a video is never split;
    one larger than the caps gets a shard of its own)."""
    per_frame = cfg.size * cfg.size // 4 + 1536  # JPEG + tar headers + json, roughly
    shards: list[list[VideoRef]] = []
    frames = nbytes = 0
    for v in videos:
        if (
            shards
            and shards[-1]
            and (frames + v.est_frames <= cfg.shard_frames)
            and (nbytes + v.est_frames * per_frame <= cfg.shard_bytes)
        ):
            shards[-1].append(v)
            frames += v.est_frames
            nbytes += v.est_frames * per_frame
        else:
            shards.append([v])
            frames, nbytes = v.est_frames, v.est_frames * per_frame
    return shards


def _check_tags(url: str, table: dict, videos: list[tuple[str, str]]) -> None:
    """InputError when the tags CSV names none of SRC's videos; a warning naming the first rows that
    name no video (a CSV may cover more videos than one ingest reads)."""
    missing = tags.unmatched(table, videos)
    if len(missing) == len(table):
        raise InputError(
            f"--labels {url}: none of its {len(table)} videos is in SRC (first: {missing[0]!r}); name each "
            "video by its path relative to SRC, its file name or its full URI"
        )
    if missing:
        log.warning(
            "--labels %s: %d row(s) name no video in SRC (first: %s)",
            url,
            len(missing),
            ", ".join(missing[:3]),
        )


def make_plan(sources: list[Source], cfg: IngestConfig) -> Plan:
    videos = [s for s in sources if s.skip_reason is None]
    with ThreadPoolExecutor(max_workers=8) as pool:
        ests = list(pool.map(lambda s: estimate_frames(s.uri, cfg), videos))
    table = tags.read_tags(cfg.labels) if cfg.labels else {}
    refs = [
        VideoRef(uri=s.uri, rel=s.rel, est_frames=e, tags=tags.match_tags(table, s.uri, s.rel))
        for s, e in zip(videos, ests, strict=True)
    ]
    if table:
        _check_tags(cfg.labels, table, [(s.uri, s.rel) for s in sources])
    skipped = [Skipped(uri=s.uri, rel=s.rel, reason=s.skip_reason) for s in sources if s.skip_reason]
    return Plan(src=cfg.src, settings=cfg.decode_settings(), shards=pack(refs, cfg), skipped=skipped)


def load_plan(fs, root: str, cfg: IngestConfig) -> Plan | None:
    """The plan stored by an earlier run into this OUT; ConfigError when it was made with other settings."""
    path = storage.join(root, PLAN_FILE)
    if not fs.exists(path):
        return None
    try:
        plan = Plan.model_validate_json(fs.cat_file(path))
    except ValidationError as exc:  # a damaged file: SRC and the settings give the same plan again
        log.warning("%s is damaged (%s): making the plan again from SRC", path, str(exc).splitlines()[0])
        return None
    # Plans written before SRC was made absolute hold it as given; read it against this working directory.
    if plan.settings != cfg.decode_settings() or storage.absolute(plan.src) != storage.absolute(cfg.src):
        raise ConfigError(
            f"{cfg.out} holds a dataset made from SRC {plan.src!r} with {json.dumps(plan.settings)}; "
            "rerun with the same SRC and settings to resume it, or choose a new OUT"
        )
    return plan


def save_plan(fs, root: str, plan: Plan) -> None:
    storage.write_staged(fs, storage.join(root, PLAN_FILE), root, plan.model_dump_json(indent=1).encode())


def shard_spec(plan: Plan, index: int, out: str, settings: DecodeSettings) -> ShardSpec:
    return ShardSpec(index=index, out=out, videos=plan.shards[index], settings=settings)
