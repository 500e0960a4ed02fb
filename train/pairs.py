"""Stream stages between reading and decoding: temporal positive pairs and the shuffle buffer.

Pairs come from the stream itself (frames of one video sit together in a shard): each frame is paired with
a random recent frame of the same video at most `max_gap_s` seconds away. A frame that never finds a
partner (a one-frame video) is paired with itself, so augmentation alone makes the positive.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import TypeVar

from unitscope.train.shards import Frame

T = TypeVar("T")
WINDOW = 8  # recent frames kept per video
VIDEOS = 16  # videos tracked at once


def temporal_pairs(
    frames: Iterable[Frame], max_gap_s: float, rng: random.Random
) -> Iterator[tuple[Frame, Frame]]:
    recent: OrderedDict[str, list[Frame]] = OrderedDict()
    paired: set[str] = set()

    def flush(video: str) -> Iterator[tuple[Frame, Frame]]:
        for f in recent.pop(video):
            if f.key not in paired:
                yield f, f
            paired.discard(f.key)

    last_epoch = None
    for frame in frames:
        if frame.epoch != last_epoch:  # a new epoch starts from other units: no pairs across it
            for video in list(recent):
                yield from flush(video)
            last_epoch = frame.epoch
        buf = recent.get(frame.video)
        if buf is None:
            while len(recent) >= VIDEOS:
                yield from flush(next(iter(recent)))
            buf = recent[frame.video] = []
        recent.move_to_end(frame.video)
        near = [f for f in buf if abs(f.pts - frame.pts) <= max_gap_s and f.key != frame.key]
        if near:
            other = rng.choice(near)
            paired.update((other.key, frame.key))
            yield (other, frame) if rng.random() < 0.5 else (frame, other)
        buf.append(frame)
        if len(buf) > WINDOW:
            old = buf.pop(0)
            if old.key not in paired:
                yield old, old
            paired.discard(old.key)


def video_groups(
    items: Iterable[tuple[Frame, Frame]], size: int, min_apart_s: float
) -> Iterator[list[tuple[Frame, Frame]]]:
    """Groups of `size` pairs from one video whose anchors lie more than `min_apart_s` apart, so that a batch
    made of groups holds same-video negatives: the same background at other moments, with other objects.
    Pairs that find no group (short videos, the end of an epoch) come out as groups of one."""
    if size == 1:
        yield from ([p] for p in items)
        return
    waiting: OrderedDict[str, list[tuple[Frame, Frame]]] = OrderedDict()
    last_epoch = None
    for item in items:
        anchor = item[-1]
        if anchor.epoch != last_epoch:
            for rest in waiting.values():
                yield from ([p] for p in rest)
            waiting.clear()
            last_epoch = anchor.epoch
        buf = waiting.get(anchor.video)
        if buf is None:
            while len(waiting) >= VIDEOS:
                yield from ([p] for p in waiting.popitem(last=False)[1])
            buf = waiting[anchor.video] = []
        waiting.move_to_end(anchor.video)
        buf.append(item)
        group: list[tuple[Frame, Frame]] = []
        taken: set[str] = set()  # the group's frame keys
        times: list[float] = []  # its anchors' times
        for p in buf:
            keys = {f.key for f in p}
            if taken.isdisjoint(keys) and all(abs(p[-1].pts - t) > min_apart_s for t in times):
                group.append(p)
                taken |= keys
                times.append(p[-1].pts)
        if len(group) >= size:
            group = group[:size]
            waiting[anchor.video] = [p for p in buf if not any(p is q for q in group)]
            yield group
    for rest in waiting.values():
        yield from ([p] for p in rest)


def flattened(groups: Iterable[list[T]]) -> Iterator[T]:
    for group in groups:
        yield from group


def singles(frames: Iterable[Frame]) -> Iterator[tuple[Frame]]:
    for frame in frames:
        yield (frame,)


def shuffled(items: Iterable[T], size: int, rng: random.Random) -> Iterator[T]:
    """A shuffle buffer: fill to `size`, then emit a random resident for each new item."""
    buf: list[T] = []
    for item in items:
        if len(buf) < size:
            buf.append(item)
            continue
        i = rng.randrange(size)
        buf[i], item = item, buf[i]
        yield item
    rng.shuffle(buf)
    yield from buf
