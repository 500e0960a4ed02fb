"""Heat overlays: a unit's map (probe/maps.py) blended over the frame it was computed on, with the frame's
labelled boxes drawn, for every place a unit's top frames are shown (report, gallery, query, HTTP).

The map is scaled between its own minimum and maximum on that frame, so an overlay says where on the frame
the unit fires most, not how strongly (the activation is printed beside it). Boxes of the concept being
shown are drawn solid, other labelled boxes dashed-thin; a frame that carries the concept's label gets a
green corner mark, one that does not a red one.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw
from unitscope.pipeline.dataset import Dataset
from unitscope.probe.boxes import BoxedFrame, read_frames
from unitscope.probe.maps import unit_maps

ALPHA = 0.5  # weight of the heat colours over the frame
# a perceptually ordered ramp (dark blue -> cyan -> yellow -> red), 5 stops interpolated to 256 entries
_STOPS = np.array([[20, 20, 120], [30, 120, 200], [60, 200, 160], [250, 220, 50], [220, 40, 30]], float)
RAMP = np.stack([np.interp(np.linspace(0, 4, 256), np.arange(5), _STOPS[:, c]) for c in range(3)], 1)


def heat(m: np.ndarray) -> np.ndarray:
    """(H, W) map -> (H, W, 3) uint8 colours, scaled to the map's own range."""
    lo, hi = float(m.min()), float(m.max())
    idx = np.zeros(m.shape, np.int64) if hi <= lo else ((m - lo) / (hi - lo) * 255).astype(np.int64)
    return RAMP[np.clip(idx, 0, 255)].astype(np.uint8)


def overlay(frame: BoxedFrame, m: np.ndarray, concept: str | None = None) -> Image.Image:
    """The frame with map `m` blended in and its boxes drawn (the `concept`'s solid, others thin)."""
    base = np.asarray(frame.image.convert("RGB"), np.float32)
    out = Image.fromarray((base * (1 - ALPHA) + heat(m) * ALPHA).clip(0, 255).astype(np.uint8))
    d = ImageDraw.Draw(out)
    for o in frame.objects:
        mine = o["concept"] == concept
        d.rectangle(o["box"], outline=(255, 255, 255) if mine else (200, 200, 200), width=2 if mine else 1)
    if concept is not None:
        colour = (40, 200, 60) if concept in frame.labels else (230, 40, 40)
        s = max(4, out.size[0] // 10)
        d.polygon([(0, 0), (s, 0), (0, s)], fill=colour)
    return out


def encode(img: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **({"quality": 85} if fmt == "JPEG" else {}))
    return buf.getvalue()


def unit_overlays(
    enc, frames: list[BoxedFrame], unit: tuple[str, int], concept: str | None = None, fmt: str = "PNG"
) -> list[bytes]:
    """The overlays of `unit` (maps of encoder `enc`) on `frames`, encoded as `fmt`, in order. Frames of
    different sizes are mapped size by size."""
    out: dict[int, bytes] = {}
    sizes = {f.image.size for f in frames}
    for size in sizes:
        idx = [i for i, f in enumerate(frames) if f.image.size == size]
        maps = unit_maps(enc, [frames[i].image for i in idx], [unit])
        for j, i in enumerate(idx):
            out[i] = encode(overlay(frames[i], maps[j, 0], concept), fmt)
    return [out[i] for i in range(len(frames))]


def read(dataset_url: str, keys: list[str]) -> dict[str, BoxedFrame]:
    """The frames of `keys` with their boxes and labels (probe/boxes.py)."""
    return read_frames(Dataset(dataset_url), keys)
