"""A few frames with their planted or annotated boxes: JPEG and `.json` member of each, read by key.

Ingest copies a frame's sidecar objects (`objects: [{"concept", "box": [x0, y0, x1, y1], "visible"}]`,
boxes mapped into the output frame's pixels) into the frame's `.json` member, which the shard holds right
after the frame's JPEG: one ranged read from the JPEG's offset gets both. A box that is not four finite
numbers with x0 < x1 and y0 < y1 inside the frame is an error naming the frame and the fix.
"""

from __future__ import annotations

import io
import json
import math
import tarfile
from dataclasses import dataclass

from PIL import Image
from unitscope.pipeline import schema, tar_reader
from unitscope.pipeline.dataset import Dataset
from unitscope.probe.activations import decode

from unitscope.core import storage
from unitscope.core.errors import InputError

BLOCK = 512
META_MAX = 64 * 1024  # a frame's .json: a few hundred bytes; read at most this much past the JPEG
EDGE = 1.0  # boxes may overhang the frame by a pixel of rounding


@dataclass
class BoxedFrame:
    key: str
    image: Image.Image
    objects: list[dict]  # {"concept", "box"} in frame pixels
    labels: list[str]  # the concepts the frame counts as showing (visible enough, as ingest decided)

    def boxes(self, concept: str) -> list[list[float]]:
        return [o["box"] for o in self.objects if o["concept"] == concept]


def check_objects(key: str, objects, width: int, height: int) -> list[dict]:
    """The objects of frame `key` with valid boxes; InputError naming the frame and the box otherwise."""
    if not isinstance(objects, list):
        raise InputError(f"frame {key}: `objects` is not a list; fix the label sidecar and re-ingest")
    out = []
    for o in objects:
        box = o.get("box") if isinstance(o, dict) else None
        ok = isinstance(box, list) and len(box) == 4 and all(isinstance(v, int | float) for v in box)
        ok = ok and all(math.isfinite(v) for v in box) and box[0] < box[2] and box[1] < box[3]
        if not ok or not isinstance(o.get("concept"), str):
            raise InputError(
                f"frame {key}: malformed object {o!r}; a sidecar object needs a `concept` name and a `box` "
                "[x0, y0, x1, y1] with x0 < x1 and y0 < y1 (frame pixels); fix the sidecar and re-ingest"
            )
        x0, y0, x1, y1 = box
        if x0 < -EDGE or y0 < -EDGE or x1 > width + EDGE or y1 > height + EDGE:
            raise InputError(
                f"frame {key}: box {box} of {o['concept']!r} lies outside the {width}x{height} frame; "
                "boxes are in the frame's pixels: fix the sidecar and re-ingest"
            )
        out.append({"concept": o["concept"], "box": [float(v) for v in box]})
    return out


def _meta(blob: bytes, key: str) -> dict:
    for name, data in tar_reader.members(io.BytesIO(blob)):
        if name.rsplit("/", 1)[-1] == f"{key}.json":
            return json.loads(data)
        break
    return {}


def read_frame(dataset: Dataset, key: str, where: tuple[int, int, int]) -> BoxedFrame:
    """Frame `key` decoded, with its checked objects and labels, from its (shard, JPEG offset, size)."""
    shard, offset, size = where
    start = offset + size + (-size % BLOCK)  # the JPEG's padding, then the .json member's header
    path = storage.join(dataset.root, schema.shard_path(shard))
    blob = dataset.fs.cat_file(path, start=offset, end=start + META_MAX)
    img = decode(blob[:size])
    if img is None:
        raise InputError(f"frame {key} of {dataset.url} cannot be decoded; re-run `unitscope ingest`")
    try:
        meta = _meta(blob[start - offset :], key)
    except (ValueError, OSError, tarfile.TarError) as exc:
        raise InputError(f"frame {key}: its .json member cannot be read ({exc}); re-run ingest") from None
    objects = check_objects(key, meta.get("objects") or [], *img.size)
    labels = meta.get("labels") or []
    return BoxedFrame(key, img, objects, [str(c) for c in labels if isinstance(c, str)])


def read_frames(dataset: Dataset, keys: list[str]) -> dict[str, BoxedFrame]:
    """Each of a few `keys` (located by one pass over the frames table) as `read_frame` gives it."""
    where = dataset.locate(keys)
    if missing := set(keys) - where.keys():
        raise InputError(f"no frame with key {min(missing)!r} in {dataset.url}")
    return {key: read_frame(dataset, key, where[key]) for key in keys}
