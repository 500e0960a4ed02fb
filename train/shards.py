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
from unitscope.pipeline import schema, tar_reader
from unitscope.pipeline.dataset import Dataset

from unitscope.core import storage
from unitscope.core.errors import InputError

log = logging.getLogger(__name__)
BLOCK = 8  # consecutive frames kept together when a shard is cut into parts


@dataclass(frozen=True)
class ShardPart:
    """Part `part` of `parts` of one shard."""

    url: str
    part: int = 0
    parts: int = 1


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


def count_frames(dataset_url: str) -> int:
    """Frames in the dataset according to its manifest."""
    return int(Dataset(dataset_url).info()["counts"]["frames"])


def plan_parts(shard_urls: list[str], slots: int) -> list[ShardPart]:
    """At least `slots` parts: whole shards, or each shard cut into equal numbers of parts."""
    parts = max(1, math.ceil(slots / len(shard_urls)))
    return [ShardPart(url, p, parts) for url in shard_urls for p in range(parts)]


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
    fs, path = storage.url_to_fs(part.url)
    try:
        with fs.open(path, "rb") as f:
            for i, sample in enumerate(tar_reader.samples(f)):
                if (i // BLOCK) % part.parts != part.part:
                    continue
                frame = _frame(sample, epoch)
                if frame is None:
                    counters["bad_samples"] = counters.get("bad_samples", 0) + 1
                    continue
                yield frame
    except (OSError, ValueError, EOFError, tarfile.TarError) as exc:
        counters["bad_shards"] = counters.get("bad_shards", 0) + 1
        if unreadable is not None:
            unreadable[part.url] = str(exc)
        log.warning("skipping the rest of shard %s: %s", part.url, exc)


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
