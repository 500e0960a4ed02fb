"""JPEG decoding and augmentation of training views (runs in DataLoader workers, PIL + numpy only).

Every step of a view stays in PIL's C code on uint8 pixels: the random resized crop is one `resize` with a
box, and the colour jitter (brightness, contrast, saturation, then maybe greyscale) is affine per pixel,
so it is folded into one 3x4 matrix that `Image.convert` applies with a single clip at the end, exactly as
the float pipeline it replaces (which clipped once, at the end, too).
"""

from __future__ import annotations

import io
import math
import warnings

import numpy as np
from PIL import Image

DECODE_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)
_GREY = np.full((3, 3), 1 / 3)


class BadImage(Exception):
    """A sample's JPEG could not be decoded."""


def decode(jpg: bytes, min_side: int) -> Image.Image:
    """Decode a JPEG, letting libjpeg scale it down by a power of two while it stays >= min_side."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(jpg), formats=("JPEG",))
            im.draft("RGB", (min_side, min_side))
            if im.mode != "RGB":
                im = im.convert("RGB")
            im.load()
    except DECODE_ERRORS as exc:
        raise BadImage(str(exc)) from exc
    return im


def view(
    im: Image.Image, size: int, crop_scale_min: float, color: bool, rng: np.random.Generator
) -> np.ndarray:
    """One augmented view, uint8 (size, size, 3): random resized crop, flip, and (if `color`) colour
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
    if color:
        matrix, offset = np.eye(3), np.zeros(3)
        if rng.random() < 0.8:
            matrix, offset = _jitter(np.asarray(out), rng)
        if rng.random() < 0.2:
            matrix, offset = _GREY @ matrix, _GREY @ offset
        if offset.any() or not np.array_equal(matrix, np.eye(3)):
            # convert() rounds (int)(v + 0.5); -0.5 makes that the truncation of np.clip(v).astype(uint8)
            affine = np.concatenate([matrix, (offset - 0.5)[:, None]], axis=1)
            out = out.convert("RGB", tuple(affine.ravel().tolist()))
    return np.asarray(out)


def _jitter(x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Brightness b, contrast c about the image mean m, saturation s about the pixel's grey, as one
    affine map of RGB: y = b*c*S x + (1-c)*b*m, with S = s*I + (1-s)*grey (S leaves a grey level as is)."""
    b, c, s = rng.uniform(0.6, 1.4), rng.uniform(0.6, 1.4), rng.uniform(0.6, 1.4)
    mean = float(x.mean())
    saturation = s * np.eye(3) + (1 - s) * _GREY
    return b * c * saturation, np.full(3, (1 - c) * b * mean)
