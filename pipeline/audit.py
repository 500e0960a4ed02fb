"""Checking a whole dataset against itself, as `git fsck` or a ZFS scrub do: every shard's size, SHA-256
and tar structure, every frame's JPEG, and the manifest against the tars (keys, byte offsets, counts).

A finding is a `Problem`: the file, what is wrong with it, and the command that rebuilds it. The shards are
checked one task each (`audit_shard`), in this process or as Ray tasks for large datasets.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pyarrow.compute as pc
from PIL import Image
from unitscope.pipeline import plan, schema, shard_check, tar_reader
from unitscope.pipeline.dataset import Dataset
from unitscope.pipeline.shard_check import CheckedShard, ShardRecord

from unitscope.core import storage


@dataclass(frozen=True)
class Problem:
    file: str
    what: str
    fix: str

    def line(self) -> str:
        return f"{self.file}: {self.what}; {self.fix}"


@dataclass
class Audit:
    """What was checked and what was found."""

    target: str
    kind: str  # dataset / run
    checked: dict[str, int] = field(default_factory=dict)  # what -> how many were checked
    problems: list[Problem] = field(default_factory=list)

    def summary(self) -> str:
        what = ", ".join(f"{n} {k}" for k, n in self.checked.items())
        verdict = "no problems" if not self.problems else f"{len(self.problems)} problem(s)"
        return f"verify {self.kind} {self.target}: {what} checked; {verdict}"


@dataclass(frozen=True)
class ShardTask:
    """One shard and the manifest's rows of its frames: (key, JPEG offset, JPEG size), in shard order."""

    record: ShardRecord
    frames: tuple[tuple[str, int, int], ...]
    fix: str


def _jpeg_ok(data: bytes) -> bool:
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
        return data.startswith(b"\xff\xd8")
    except Exception:  # PIL raises many kinds on damaged data (OSError, SyntaxError, ValueError, ...)
        return False


def audit_shard(task: ShardTask) -> tuple[int, list[Problem]]:
    """Read one shard whole: its size, checksum and tar structure, each frame's JPEG, and its keys,
    offsets and count against the manifest. Returns (frames read, problems)."""
    rec, name = task.record, task.record.url
    check, problems = CheckedShard(rec), []
    seen: list[tuple[str, int, int]] = []
    bad_jpegs: list[str] = []
    try:
        with check.open() as f:
            pos = 0
            try:
                for path, data in tar_reader.members(f):
                    pos = f.tell()  # the end of the member's padded data
                    if path.endswith(".jpg"):
                        key = path[: -len(".jpg")].rsplit("/", 1)[-1]
                        start = pos - len(data) - (-len(data) % tarfile.BLOCKSIZE)
                        seen.append((key, start, len(data)))
                        if not _jpeg_ok(data):
                            bad_jpegs.append(key)
            except (tarfile.TarError, ValueError, EOFError) as exc:
                check.failed(f"tar structure: {exc}")
            why = check.finish(len(seen))
    except OSError as exc:
        why = f"cannot be read: {exc}"
    if why:
        problems.append(Problem(name, why, task.fix))
    if bad_jpegs:
        problems.append(
            Problem(name, f"{len(bad_jpegs)} JPEG(s) do not decode (first {bad_jpegs[0]})", task.fix)
        )
    if not why and tuple(seen) != task.frames:
        wrong = next((a for a, b in zip(seen, task.frames, strict=False) if a != b), None)
        problems.append(
            Problem(name, f"tar and manifest/frames.parquet disagree (first at {wrong})", task.fix)
        )
    return len(seen), problems


def _tables(ds: Dataset, audit: Audit, fix: str) -> bool:
    """Every manifest file parses; False when one does not (the shards cannot be checked against it)."""
    ok = True
    for rel, read in (
        (schema.DATASET_JSON, lambda: json.loads(ds.fs.cat_file(storage.join(ds.root, schema.DATASET_JSON)))),
        (plan.PLAN_FILE, lambda: plan.Plan.model_validate_json(ds.fs.cat_file(storage.join(ds.root, plan.PLAN_FILE)))),
        (schema.VIDEOS_TABLE, ds.videos),
        (schema.FRAMES_TABLE, ds.frames),
        (schema.SHARDS_TABLE, ds.shards),
    ):  # fmt: skip
        try:
            read()
        except FileNotFoundError:
            if rel != plan.PLAN_FILE:  # datasets written by other tools may have no plan
                audit.problems.append(Problem(ds.url_of(rel), "missing", fix))
                ok = False
        except Exception as exc:  # any parse error of a damaged file: JSON, Parquet, validation
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            audit.problems.append(Problem(ds.url_of(rel), f"unreadable ({first})", fix))
            ok = False
        audit.checked["manifest files"] = audit.checked.get("manifest files", 0) + 1
    return ok


def shard_tasks(ds: Dataset, fix: str) -> list[ShardTask]:
    """One task per committed shard with frames, with its frames' rows from the manifest."""
    frames = ds.frames().select(["key", "shard", *["jpg_offset", "jpg_size"]])
    tasks = []
    for rec in shard_check.records(ds):
        rows = frames.filter(pc.equal(frames.column("shard"), rec.index)).sort_by("jpg_offset").to_pydict()
        tasks.append(
            ShardTask(rec, tuple(zip(rows["key"], rows["jpg_offset"], rows["jpg_size"], strict=True)), fix)
        )
    return tasks


def audit_dataset(
    url: str, run_tasks: Callable[[list[ShardTask]], Iterable[tuple[int, list[Problem]]]] | None = None
) -> Audit:
    """Check a dataset directory; `run_tasks` maps `audit_shard` over the tasks (default: in this process)."""
    ds = Dataset(url)
    try:
        src = ds.info().get("src")
    except Exception:  # dataset.json itself damaged: reported by _tables
        src = None
    fix = f"run `unitscope ingest {src or 'SRC'} {ds.url}` again to rebuild it"
    audit = Audit(ds.url, "dataset")
    if not _tables(ds, audit, fix):
        return audit
    tasks = shard_tasks(ds, fix)
    results = run_tasks(tasks) if run_tasks else map(audit_shard, tasks)
    frames = 0
    for n, problems in results:
        frames += n
        audit.problems += problems
    audit.checked["shards"] = len(tasks)
    audit.checked["frames"] = frames
    return audit
