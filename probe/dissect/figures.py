"""The pictures of a dissection: PNGs of stimuli and templates (probe/svg_chart.py draws its curves)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def to_uint8(image: np.ndarray, mean=None, std=None) -> np.ndarray:
    """A normalised (H, W, C) image back to pixels with the encoder's `mean`/`std`, or (without them)
    stretched to its own range, as a de-whitened template of arbitrary scale is."""
    if mean is not None:
        x = image * np.asarray(std) + np.asarray(mean)
    else:
        lo, hi = float(image.min()), float(image.max())
        x = (image - lo) / (hi - lo if hi > lo else 1.0)
    x = np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.repeat(x, 3, axis=2) if x.shape[2] == 1 else x


def png(pixels: np.ndarray, side: int | None = None) -> bytes:
    """PNG bytes of uint8 (H, W, 3) pixels, enlarged by whole pixels to about `side`."""
    img = Image.fromarray(pixels)
    if side and img.width < side:
        f = max(1, side // img.width)
        img = img.resize((img.width * f, img.height * f), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def montage(tiles: list[np.ndarray], tile: int = 72, gap: int = 4) -> np.ndarray:
    """uint8 tiles side by side on white, each enlarged by whole pixels to about `tile`."""
    big = []
    for t in tiles:
        f = max(1, tile // t.shape[0])
        big.append(np.kron(t, np.ones((f, f, 1), dtype=np.uint8)))
    h = max(t.shape[0] for t in big)
    w = sum(t.shape[1] for t in big) + gap * (len(big) - 1)
    out = np.full((h, w, 3), 255, np.uint8)
    x = 0
    for t in big:
        out[: t.shape[0], x : x + t.shape[1]] = t
        x += t.shape[1] + gap
    return out
