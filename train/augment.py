"""JPEG decoding and augmentation of training views (runs in DataLoader workers, numpy + PIL only)."""

from __future__ import annotations

import io
import math
import warnings

import numpy as np
from PIL import Image

DECODE_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


class BadImage(Exception):
    """A sample's JPEG could not be decoded."""


def decode(jpg: bytes, min_side: int) -> Image.Image:
    """Decode a JPEG, letting libjpeg scale it down by a power of two while it stays >= min_side."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(jpg))
            im.draft("RGB", (min_side, min_side))
            im = im.convert("RGB")
            im.load()
    except DECODE_ERRORS as exc:
        raise BadImage(str(exc)) from exc
    return im


def view(
    im: Image.Image, size: int, crop_scale_min: float, color: bool, rng: np.random.Generator
) -> np.ndarray:
    """One augmented view, uint8 (3, size, size): random resized crop, flip, and (if `color`) colour
    jitter and random greyscale."""
    w, h = im.size
    for _ in range(10):
        area = w * h * rng.uniform(crop_scale_min, 1.0)
        ratio = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
        cw, ch = math.sqrt(area * ratio), math.sqrt(area / ratio)
        if cw <= w and ch <= h:
            break
    else:
        cw = ch = min(w, h)
    x0, y0 = rng.uniform(0, w - cw), rng.uniform(0, h - ch)
    out = im.resize((size, size), Image.BILINEAR, box=(x0, y0, x0 + cw, y0 + ch))
    if rng.random() < 0.5:
        out = out.transpose(Image.FLIP_LEFT_RIGHT)
    x = np.asarray(out, dtype=np.float32)
    if color:
        if rng.random() < 0.8:
            x = x * rng.uniform(0.6, 1.4)
            mean = x.mean()
            x = (x - mean) * rng.uniform(0.6, 1.4) + mean
            grey = x.mean(axis=2, keepdims=True)
            x = (x - grey) * rng.uniform(0.6, 1.4) + grey
        if rng.random() < 0.2:
            x = np.repeat(x.mean(axis=2, keepdims=True), 3, axis=2)
    return np.clip(x, 0, 255).astype(np.uint8).transpose(2, 0, 1)
