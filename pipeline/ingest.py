"""The ingest stage's entry point: `run(IngestConfig) -> IngestResult` (list, plan, execute, merge)."""

from __future__ import annotations

import json
import logging
import os
import time

import pyarrow.compute as pc
from pydantic import BaseModel
from unitscope.pipeline import executor, manifest, plan, repair, schema, sources
from unitscope.pipeline.config import IngestConfig
from unitscope.pipeline.dataset import Dataset
from unitscope.pipeline.decode import DecodeSettings
from unitscope.pipeline.progress import Progress

from unitscope.core import storage
from unitscope.core.errors import ConfigError, InputError
from unitscope.core.failure_log import FailureLog

log = logging.getLogger(__name__)


class IngestResult(BaseModel):
    out: str
    videos: int
    videos_ok: int
    videos_failed: int
    videos_skipped: int
    frames: int
    shards: int
    shards_failed: int
    shards_run: int  # shards built by this run (0 when an earlier run had finished the job)
    shards_startup: int = 0  # of those, built by the driver while local Ray started
    shards_rebuilt: dict[int, str] = {}  # committed shards found damaged and built again: shard -> why
    failure_log: str | None = None  # where the tracebacks of failed shards are
    video_problems: list[str] = []  # the first failed or skipped videos with their reasons, then a count
    wall_s: float
    concepts: list[str]

    def summary(self) -> str:
        startup = f", {self.shards_startup} of them while Ray started" if self.shards_startup else ""
        if self.shards_rebuilt:
            startup += f", {len(self.shards_rebuilt)} rebuilt: {repair.reasons(self.shards_rebuilt)}"
        logs = f"; tracebacks in {self.failure_log}" if self.failure_log else ""
        return "\n".join(
            [
                f"ingest: done in {self.wall_s:.1f}s: {self.videos_ok} ok, {self.videos_failed} failed, "
                f"{self.videos_skipped} skipped videos; {self.frames} frames in {self.shards} shards "
                f"({self.shards_run} built now{startup}, {self.shards_failed} failed{logs}) -> {self.out}",
                *self.video_problems,
            ]
        )


def _open_out(cfg: IngestConfig):
    """The output filesystem and root; InputError when OUT cannot be a dataset directory. Creates
    nothing: a run that fails before its plan is made leaves OUT as it was (see `_prepare_out`)."""
    try:
        fs, root = storage.url_to_fs(cfg.out)
        if fs.isfile(root):
            raise InputError(
                f"OUT {cfg.out!r} is a file; give a directory (new or an earlier ingest's output)"
            )
        if fs.isdir(root):
            names = {os.path.basename(p.rstrip("/")) for p in fs.ls(root, detail=False)}
            if names and not names & {"manifest", "shards", schema.DATASET_JSON}:
                raise InputError(
                    f"OUT {cfg.out!r} is a non-empty directory that is not a unitscope dataset; "
                    "choose a new or empty directory so nothing there is overwritten"
                )
    except InputError:
        raise
    except (OSError, ValueError, ImportError) as exc:
        raise InputError(
            f"cannot open OUT {cfg.out!r}: {exc}; check the path, permissions or credentials"
        ) from exc
    return fs, root


def _prepare_out(cfg: IngestConfig, fs, root: str) -> None:
    """Create OUT's folders and check that it can be written; InputError naming OUT otherwise."""
    try:
        fs.makedirs(storage.join(root, schema.SHARDS_DIR), exist_ok=True)
        fs.makedirs(storage.join(root, schema.PARTS_DIR), exist_ok=True)
        storage.write_staged(fs, storage.join(root, ".unitscope-write-test"), root, b"ok")
        fs.rm(storage.join(root, ".unitscope-write-test"))
    except (OSError, ValueError, ImportError) as exc:
        raise InputError(
            f"cannot write OUT {cfg.out!r}: {exc}; check the path, permissions or credentials"
        ) from exc


def video_problems(out: str, first: int = 3) -> list[str]:
    """One line per failed or skipped video (the first `first`), then how many more and where they are."""
    try:
        rows = Dataset(out).videos()
    except Exception:  # a manifest that could not be written: the summary says so elsewhere
        return []
    bad = (
        rows.filter(pc.not_equal(rows.column("status"), "ok")).select(["uri", "status", "error"]).to_pylist()
    )
    lines = [
        f"  {r['status']}: {r['uri']}: {(r['error'] or '').splitlines()[0] if r['error'] else ''}"
        for r in bad[:first]
    ]
    if len(bad) > first:
        lines.append(f"  ... and {len(bad) - first} more: see {schema.VIDEOS_TABLE} (status, error)")
    return lines


def _threads(cfg: IngestConfig) -> int:
    """Decoder threads: as given; else one per Ray task (the CPU Ray reserved for it), and in-process
    every CPU (0 lets FFmpeg choose)."""
    if cfg.threads:
        return cfg.threads
    return 0 if cfg.workers == 0 else 1


def _absolute(cfg: IngestConfig) -> IngestConfig:
    return cfg.model_copy(
        update={
            "src": storage.absolute(cfg.src),
            "out": storage.absolute(cfg.out),
            "labels": cfg.labels and storage.absolute(cfg.labels),
        }
    )


def holds_other(cfg: IngestConfig) -> bool:
    """Whether OUT holds a dataset planned from another SRC or with other settings, which `run` refuses
    to resume (see plan.load_plan)."""
    cfg = _absolute(cfg)
    fs, root = storage.url_to_fs(cfg.out)
    try:
        plan.load_plan(fs, root, cfg)
    except ConfigError:
        return True
    return False


def run(cfg: IngestConfig) -> IngestResult:
    """Ingest SRC into OUT; resumes a killed run, and does nothing when OUT already holds the finished job."""
    t0 = time.monotonic()
    cfg = _absolute(cfg)
    fs, root = _open_out(cfg)
    the_plan = plan.load_plan(fs, root, cfg)
    if the_plan is None:
        the_plan = plan.make_plan(sources.list_sources(cfg.src), cfg)  # a bad SRC fails here: OUT untouched
        _prepare_out(cfg, fs, root)
        plan.save_plan(fs, root, the_plan)
    else:
        _prepare_out(cfg, fs, root)
    storage.clear_staging(fs, root)
    settings = DecodeSettings(
        fps=cfg.fps,
        size=cfg.size,
        max_frames=cfg.max_frames,
        keyframes_only=cfg.keyframes_only,
        jpeg_quality=cfg.jpeg_quality,
        threads=_threads(cfg),
    )
    statuses: dict[int, manifest.ShardStatus] = {}
    committed = fs.glob(storage.join(root, schema.SHARDS_DIR, schema.SHARD_GLOB), detail=True)
    sizes = {path: info.get("size") for path, info in committed.items()}
    for i in range(len(the_plan.shards)):
        if storage.join(root, schema.shard_path(i)) in sizes:
            st = manifest.read_status(fs, root, i)
            if st is not None:
                statuses[i] = st.model_copy(update={"reused": True})
    rebuild = repair.damaged(fs, root, statuses, sizes, cfg.verify)
    for i, why in rebuild.items():
        log.warning("shard %d: its %s differs from the manifest: building it again", i, why)
        del statuses[i]
        manifest.drop_status(fs, root, i)
    pending = [
        plan.shard_spec(the_plan, i, cfg.out, settings)
        for i in range(len(the_plan.shards))
        if i not in statuses
    ]
    finished = fs.exists(storage.join(root, schema.DATASET_JSON))
    if finished and (damaged := repair.manifest_problem(fs, root)):
        log.warning("%s is damaged: writing the manifest again from its per-shard parts", damaged)
        finished = False
    progress = Progress(
        total_videos=sum(len(s.videos) for s in pending),
        est_frames=sum(the_plan.est_frames(s.index) for s in pending),
        enabled=cfg.progress,
    )
    failures = FailureLog("ingest")
    if pending:
        runner = (
            executor.run_in_process(pending, progress, failures)
            if cfg.workers == 0
            else executor.run_ray(pending, cfg.workers, cfg.max_retries, progress, cfg.address, failures)
        )
        for st in runner:
            statuses[st.index] = st
    if pending or not finished:
        info = {
            "src": cfg.src,
            "config": cfg.model_dump(exclude={"address", "progress", "workers", "threads", "verify"}),
        }
        doc = manifest.merge(fs, root, [statuses[i] for i in sorted(statuses)], the_plan, info)
        storage.clear_staging(fs, root)
    else:
        doc = json.loads(fs.cat_file(storage.join(root, schema.DATASET_JSON)))
    c = doc["counts"]
    result = IngestResult(
        out=cfg.out,
        videos=c["videos"],
        videos_ok=c["videos_ok"],
        videos_failed=c["videos_failed"],
        videos_skipped=c["videos_skipped"],
        frames=c["frames"],
        shards=c["shards"],
        shards_failed=c["shards_failed"],
        shards_run=sum(not s.reused for s in statuses.values()),
        shards_startup=sum(s.built_by == "driver" for s in statuses.values()),
        shards_rebuilt=rebuild,
        failure_log=failures.path if failures.count else None,
        video_problems=video_problems(cfg.out),
        wall_s=time.monotonic() - t0,
        concepts=doc["concepts"],
    )
    progress.finish(result.summary())
    return result
