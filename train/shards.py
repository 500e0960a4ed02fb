"""Reading frames out of the dataset's WebDataset shards, and splitting the shards over training slots.

A slot is one DataLoader worker of one rank (slots = ranks x loader workers). Each epoch the shard parts
are permuted (seeded by epoch) and dealt round-robin to the slots, so within an epoch no two slots read
the same frame. With fewer shards than slots, each shard is cut into interleaved parts (blocks of
consecutive frames, so neighbouring frames of a video stay together) until every slot has one.
"""

from __future__ import annotations

import json
import logging
import math
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from unitscope.pipeline import schema, shard_check, tar_reader
from unitscope.pipeline.damage import Damage
from unitscope.pipeline.dataset import Dataset
from unitscope.pipeline.shard_check import CheckedShard, ShardRecord

from unitscope.core import storage
from unitscope.core.errors import InputError

log = logging.getLogger(__name__)
BLOCK = 8  # consecutive frames kept together when a shard is cut into parts


@dataclass(frozen=True)
class ShardPart:
    """Part `part` of `parts` of one shard; `record`: what the manifest says of the shard (checked on read)."""

    url: str
    part: int = 0
    parts: int = 1
    record: ShardRecord | None = None


@dataclass(frozen=True, eq=False)
class Frame:
    """One sample as read from a shard, before decoding. Compared by identity: one frame object may sit in
    several temporal pairs, and its decoded image is shared by them (see `stream`)."""

    key: str
    video: str
    pts: float
    jpg: bytes
    epoch: int


def list_shards(dataset_url: str) -> list[str]:
    """URLs of the dataset's committed shards that hold frames; InputError when there are none."""
    urls = Dataset(dataset_url).shard_urls()
    if not urls:
        raise InputError(
            f"no shards found in {dataset_url}: its ingest wrote no frames (see manifest/videos.parquet "
            "for why); ingest videos that decode, then train"
        )
    return urls


def list_records(dataset_url: str) -> list[ShardRecord]:
    """The committed shards that hold frames, with their manifest rows; InputError when there are none."""
    list_shards(dataset_url)
    return shard_check.records(Dataset(dataset_url))


def size_damage(dataset_url: str, max_bad: float) -> str | None:
    """Compare every shard's size with the manifest (one listing): DamageError when the damaged shards'
    frames pass `max_bad`, else the warning line (None without damage)."""
    ds = Dataset(dataset_url)
    recs = shard_check.records(ds)
    damage = Damage("train", sum(r.frames or 0 for r in recs))
    for r in recs:
        fs, path = storage.url_to_fs(r.url)
        if why := shard_check.size_problem(fs, path, r):
            damage.add(r.url, why, r.frames or 0)
    return damage.enforce(max_bad, shard_check.repair_hint(ds.url, ds.info().get("src")))


def count_frames(dataset_url: str) -> int:
    """Frames in the dataset according to its manifest."""
    return int(Dataset(dataset_url).info()["counts"]["frames"])


def plan_parts(shards: list[str] | list[ShardRecord], slots: int) -> list[ShardPart]:
    """At least `slots` parts: whole shards, or each shard cut into equal numbers of parts. Shards given
    as `ShardRecord`s are checked against the manifest as they are read."""
    parts = max(1, math.ceil(slots / len(shards)))
    out = []
    for s in shards:
        url, record = (s, None) if isinstance(s, str) else (s.url, s)
        out += [ShardPart(url, p, parts, record) for p in range(parts)]
    return out


def _in_part(frames: int, part: ShardPart) -> int:
    """How many of a shard's `frames` fall in `part` (blocks of BLOCK dealt round-robin)."""
    return sum(1 for i in range(frames) if (i // BLOCK) % part.parts == part.part)


def parts_for_slot(parts: list[ShardPart], epoch: int, seed: int, slot: int, slots: int) -> list[ShardPart]:
    """This slot's parts in `epoch`: a seeded permutation dealt round-robin (disjoint across slots)."""
    order = np.random.default_rng([seed, epoch]).permutation(len(parts))
    return [parts[i] for i in order[slot::slots]]


def read_part(
    part: ShardPart, epoch: int, counters: dict[str, int], unreadable: dict[str, str] | None = None
) -> Iterator[Frame]:
    """The frames of one part in shard order. A shard that cannot be read is counted, logged and named in
    `unreadable` (its frames read so far stay used); a sample without a JPEG or with a bad key is counted
    and skipped."""
    check = CheckedShard(part.record or ShardRecord(part.url))
    read = given = 0
    try:
        with check.open() as f:
            try:
                for i, sample in enumerate(tar_reader.samples(f)):
                    read = i + 1
                    if (i // BLOCK) % part.parts != part.part:
                        continue
                    frame = _frame(sample, epoch)
                    if frame is None:
                        counters["bad_samples"] = counters.get("bad_samples", 0) + 1
                        continue
                    given += 1
                    yield frame
            except (ValueError, EOFError, tarfile.TarError) as exc:
                check.failed(f"tar: {exc}")
            why = check.finish(read)
    except OSError as exc:
        why = str(exc)
    if why is None:
        return
    counters["bad_shards"] = counters.get("bad_shards", 0) + 1
    if part.record is not None and part.record.frames:  # the frames this part should have given
        counters["bad_samples"] = counters.get("bad_samples", 0) + max(
            0, _in_part(part.record.frames, part) - given
        )
    if unreadable is not None:
        unreadable[part.url] = why
    log.warning(
        "shard %s is damaged (%s): its unreadable frames are skipped; rerun `unitscope ingest`", part.url, why
    )


def _frame(sample: dict, epoch: int) -> Frame | None:
    key = str(sample.get("__key__", ""))
    try:
        video, _ = schema.parse_frame_key(key.rsplit("/", 1)[-1])
        meta = json.loads(sample["json"]) if "json" in sample else {}
        jpg = sample["jpg"]
    except (KeyError, ValueError) as exc:
        log.warning("skipping sample %r: %s", key, exc)
        return None
    return Frame(
        key=key.rsplit("/", 1)[-1], video=video, pts=float(meta.get("pts", 0.0)), jpg=jpg, epoch=epoch
    )


def slot_frames(
    parts: list[ShardPart], slot: int, slots: int, seed: int, counters: dict[str, int]
) -> Iterator[Frame]:
    """This slot's endless stream of frames, epoch after epoch."""
    empty = 0
    epoch = 0
    while True:
        n = 0
        unreadable: dict[str, str] = {}
        for part in parts_for_slot(parts, epoch, seed, slot, slots):
            for frame in read_part(part, epoch, counters, unreadable):
                n += 1
                yield frame
        if not n and unreadable:
            raise unreadable_error(unreadable)
        empty = 0 if n else empty + 1
        if empty >= 3:
            raise InputError(
                f"loader slot {slot} of {slots} read no usable frames in 3 epochs: the shards hold too few "
                "readable frames for this many workers x loader workers; use fewer (--workers, "
                "loader_workers) or ingest more video"
            )
        epoch += 1


def unreadable_error(unreadable: dict[str, str]) -> InputError:
    """The error of a loader slot whose shards could not be read at all: the shards and why, not a count."""
    url, why = next(iter(unreadable.items()))
    more = f" (and {len(unreadable) - 1} more shard(s))" if len(unreadable) > 1 else ""
    return InputError(
        f"cannot read shard {url}: {why}{more}; check that the dataset is still there and that every "
        "training worker reaches it (on a cluster: shared storage), or re-run `unitscope ingest`"
    )
