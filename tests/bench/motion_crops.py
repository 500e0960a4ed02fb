"""Benchmark: how often the motion-centred crops (train/motion.py) land on a planted concept.

A diagnostic that uses the labels the trainer never sees: on the planted-concept training corpus of
`train_quality.py` (same cache folder), it pairs each frame with the next frame of its video (at most
0.5 s apart, as the temporal objective's default) where the first shows a labelled concept, cuts each
pair's motion boxes as training does, and counts the boxes whose centre lies inside a concept's labelled
box, and how much of that box they hold. The baseline in the same run: a box of the same size at a random
place in the same frame. Distractors move like the concepts (by the corpus' design), so a box on a
distractor is a box on a moving object, counted here as a miss.

    python tests/bench/motion_crops.py [--out DIR] [--train-videos 32] [--pairs 1500]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import fsspec
import numpy as np
from unitscope.pipeline import tar_reader
from unitscope.train import augment, motion
from unitscope.train.shards import list_shards

from tests.bench.train_quality import train_corpus

Box = tuple[float, float, float, float]


def labelled_pairs(dataset: str, limit: int, max_gap_s: float = 0.5) -> list[tuple[list, list[Box]]]:
    """([image a, image b], concept boxes of a) for neighbouring frames of one video, a showing a concept."""
    out, last, last_im = [], None, None
    for url in list_shards(dataset):
        with fsspec.open(url, "rb") as f:
            for s in tar_reader.samples(f):
                meta = json.loads(s["json"])
                frame = (meta["video_id"], meta["pts"], s["jpg"], [tuple(o["box"]) for o in meta["objects"]])
                im = None  # decoded only when it is in a pair, and once: b of one pair is a of the next
                if last and last[0] == frame[0] and 0 < frame[1] - last[1] <= max_gap_s and last[3]:
                    im = augment.decode(frame[2], 10**4)
                    out.append(
                        ([last_im if last_im is not None else augment.decode(last[2], 10**4), im], last[3])
                    )
                    if len(out) == limit:
                        return out
                last, last_im = frame, im
    return out


def centre_in(box: Box, objects: list[Box]) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return any(o[0] <= cx <= o[2] and o[1] <= cy <= o[3] for o in objects)


def held(box: Box, objects: list[Box]) -> float:
    """The largest fraction of one object's labelled box that lies inside `box`."""
    best = 0.0
    for o in objects:
        ix = max(0.0, min(box[2], o[2]) - max(box[0], o[0]))
        iy = max(0.0, min(box[3], o[3]) - max(box[1], o[1]))
        best = max(best, ix * iy / max(1e-6, (o[2] - o[0]) * (o[3] - o[1])))
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="/tmp/unitscope-train-quality", help="train_quality.py's cache folder")
    ap.add_argument("--train-videos", type=int, default=32)
    ap.add_argument("--pairs", type=int, default=1500)
    args = ap.parse_args()
    pairs = labelled_pairs(train_corpus(Path(args.out), args.train_videos), args.pairs)
    rng, chance_rng = np.random.default_rng(0), np.random.default_rng(1)
    boxes = []
    for i in range(0, len(pairs), 64):  # a training batch's worth at a time, as the stream does
        boxes += motion.batch_boxes([ims for ims, _ in pairs[i : i + 64]], rng)
    made = [(b[0], objects, ims[0].size) for (ims, objects), b in zip(pairs, boxes, strict=True) if b]
    hit, cover, chance = [], [], []
    for box, objects, (w, h) in made:
        hit.append(centre_in(box, objects))
        cover.append(held(box, objects))
        side = box[2] - box[0]
        x, y = chance_rng.uniform(0, w - side), chance_rng.uniform(0, h - side)
        chance.append(centre_in((x, y, x + side, y + side), objects))
    print(json.dumps({
        "bench": "motion_crops", "train_videos": args.train_videos, "pairs_with_a_concept": len(pairs),
        "motion_boxes_made": round(len(made) / max(1, len(pairs)), 3),
        "centre_on_a_concept": round(float(np.mean(hit)), 3),
        "same_size_random_box": round(float(np.mean(chance)), 3),
        "concept_box_held": round(float(np.mean(cover)), 3),
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
