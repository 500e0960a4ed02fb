"""The training input: an endless, deterministic stream of decoded, augmented batches for one rank.

Per loader worker: shard frames (split by rank and worker) -> pairs, grouped by video (temporal), or
singles (sparse) -> shuffle buffer -> decode + augment -> batch. Everything before decoding is seeded, so a
worker's stream is a pure function of (seed, rank, worker): its position is the number of items it has
handed out, and a resumed run replays the undecoded items up to there and continues where it stopped.
Streams never end, so every rank takes exactly one batch per step and DDP never waits on a rank that ran
dry. A batch's views are uint8 NCHW tensors laid out channels_last (NHWC in memory, as PIL hands pixels
over): no transposing copy, and CPU convolutions train ~25% faster on that layout than on contiguous NCHW.
"""

from __future__ import annotations

import functools
import math
import os
import random
import weakref
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, IterableDataset, get_worker_info
from unitscope.train import augment, motion, pairs, shards


@dataclass(frozen=True)
class StreamSpec:
    """What one rank's stream needs; small and picklable (built into loader workers, not the data)."""

    shard_urls: tuple  # shard URLs, or ShardRecords (checked against the manifest as they are read)
    rank: int
    world: int
    batch: int
    temporal: bool
    input_size: int
    crop_scale_min: float
    max_gap_s: float
    shuffle_buffer: int
    seed: int
    group: int = 1
    motion_crops: float = 0.0


class ShardStream(IterableDataset):
    def __init__(self, spec: StreamSpec, skip: dict[int, int] | None = None):
        super().__init__()
        self.spec = spec
        self.skip = skip or {}

    def __iter__(self) -> Iterator[dict]:
        s = self.spec
        info = get_worker_info()
        wid, nw = (info.id, info.num_workers) if info else (0, 1)
        slot, slots = s.rank * nw + wid, s.world * nw
        counters: dict[str, int] = {}
        parts = shards.plan_parts(list(s.shard_urls), slots)
        frames = shards.slot_frames(parts, slot, slots, s.seed, counters)
        order_rng = random.Random(f"{s.seed}/{slot}")
        if s.temporal:
            groups = pairs.video_groups(
                pairs.temporal_pairs(frames, s.max_gap_s, order_rng), s.group, s.max_gap_s
            )
            items = pairs.flattened(pairs.shuffled(groups, max(1, s.shuffle_buffer // s.group), order_rng))
        else:
            items = pairs.shuffled(pairs.singles(frames), s.shuffle_buffer, order_rng)
        pos = 0
        for _ in range(self.skip.get(wid, 0)):
            next(items)
            pos += 1
        rng = np.random.default_rng([s.seed, slot, pos])
        smallest = min(s.crop_scale_min, motion.SMALLEST if s.motion_crops else 1.0)
        min_side = math.ceil(s.input_size / math.sqrt(smallest))
        nviews = 2 if s.temporal else 1
        decoded: weakref.WeakKeyDictionary[shards.Frame, Image.Image] = weakref.WeakKeyDictionary()
        while True:
            views = [np.empty((s.batch, s.input_size, s.input_size, 3), np.uint8) for _ in range(nviews)]
            got: list[tuple[tuple[shards.Frame, ...], list[Image.Image]]] = []
            bad = 0
            while len(got) < s.batch:
                item = next(items)
                pos += 1
                try:
                    got.append((item, [_decoded(f, min_side, decoded) for f in item]))
                except augment.BadImage:
                    bad += 1
            # motion crops for a random share of the pairs, their motion maps computed together
            chosen = [i for i in range(s.batch) if s.motion_crops and rng.random() < s.motion_crops]
            cut = motion.batch_views([got[i][1] for i in chosen], s.input_size, rng)
            made = {i: m for i, m in zip(chosen, cut, strict=True) if m is not None}
            for i, (_, ims) in enumerate(got):
                for v, im in enumerate(ims):
                    views[v][i] = (
                        made[i][v] if i in made else augment.view(im, s.input_size, s.crop_scale_min, rng)
                    )
            if s.temporal:  # colour per batch; motion-centred views also get their channels shuffled
                shuffled = np.isin(np.arange(s.batch), list(made))
                for v in views:
                    augment.colour(v, rng, shuffled)
            keys = [item[-1].key for item, _ in got]
            epochs = [item[-1].epoch for item, _ in got]
            yield {
                "views": [torch.from_numpy(v).permute(0, 3, 1, 2) for v in views],  # NCHW, channels_last
                "keys": keys,
                "epochs": epochs,
                "worker": wid,
                "pos": pos,
                "skipped": bad,
                "bad_samples": counters.pop("bad_samples", 0),
                "bad_shards": counters.pop("bad_shards", 0),
            }


def _decoded(frame: shards.Frame, min_side: int, memo: weakref.WeakKeyDictionary) -> Image.Image:
    """The frame's image, decoded once while the frame is in flight (a frame sits in up to a few temporal
    pairs; the memo lets go of it when the last pair holding it has been used)."""
    im = memo.get(frame)
    if im is None:
        im = memo[frame] = augment.decode(frame.jpg, min_side)
    return im


def _init_worker(nice: int, _: int) -> None:
    torch.set_num_threads(1)
    if nice:
        os.nice(nice)


def make_loader(
    spec: StreamSpec,
    loader_workers: int,
    skip: dict[int, int] | None = None,
    pin: bool = False,
    nice: int = 0,
) -> DataLoader:
    """A DataLoader over one rank's stream; batches are assembled inside the workers, which run one torch
    thread each at `nice` more niceness than the training process (see `TrainConfig.loader_nice`)."""
    return DataLoader(
        ShardStream(spec, skip),
        batch_size=None,
        num_workers=loader_workers,
        worker_init_fn=functools.partial(_init_worker, nice) if loader_workers else None,
        prefetch_factor=4 if loader_workers else None,
        persistent_workers=False,
        pin_memory=pin,
    )
