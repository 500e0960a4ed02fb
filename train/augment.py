"""JPEG decoding and augmentation of training views (runs in DataLoader workers, PIL + numpy only).

A view's geometry is made alone, in PIL's C code on uint8 pixels (the random resized crop is one `resize`
with a box); its colours with its whole batch in numpy: the colour jitter (brightness, contrast,
saturation, then maybe greyscale and a channel shuffle) is affine per pixel, so it is one 3x4 matrix per
view and one batched product for the batch, clipped once at the end like the float pipeline it stands
for.
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
    im: Image.Image,
    size: int,
    crop_scale_min: float,
    rng: np.random.Generator,
    within: tuple[float, float, float, float] | None = None,
) -> np.ndarray:
    """One view's geometry, uint8 (size, size, 3): a random resized crop (one PIL `resize` with a box) of the
    image, or of its region `within` (x0, y0, x1, y1), and a random horizontal flip. Its colours are
    augmented with the rest of its batch (`colour`)."""
    left, top, right, bottom = within or (0, 0, *im.size)
    w, h = right - left, bottom - top
    for _ in range(10):
        area = w * h * rng.uniform(crop_scale_min, 1.0)
        ratio = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
        cw, ch = math.sqrt(area * ratio), math.sqrt(area / ratio)
        if cw <= w and ch <= h:
            break
    else:
        cw = ch = min(w, h)
    x0, y0 = left + rng.uniform(0, w - cw), top + rng.uniform(0, h - ch)
    out = im.resize((size, size), Image.BILINEAR, box=(x0, y0, x0 + cw, y0 + ch))
    if rng.random() < 0.5:
        out = out.transpose(Image.FLIP_LEFT_RIGHT)
    return np.asarray(out)


def colour(views: np.ndarray, rng: np.random.Generator, shuffle: np.ndarray | None = None) -> None:
    """Colour-augment a batch of uint8 views (n, h, w, 3) in place: each view, with probability 0.8, gets
    brightness b, contrast c about its mean m and saturation s about each pixel's grey (each in [0.6, 1.4]),
    then with probability 0.2 turns grey, then, where `shuffle` (bool (n,)) is set, has its channels put in
    a random order. All of it is affine in RGB, so per view it is one 3x4 matrix (y = b*c*S x + (1-c)*b*m
    with S = s*I + (1-s)*grey, then the grey and permutation matrices), applied to the batch at once in
    float32 and clipped and truncated to uint8 once at the end."""
    n = len(views)
    jitter, grey = rng.random((2, n)) < np.array([[0.8], [0.2]])
    b, c, s = np.where(jitter, rng.uniform(0.6, 1.4, (3, n)), 1.0)
    x = views.reshape(n, -1, 3).astype(np.float32)
    mean = x.mean(axis=(1, 2))
    matrix = (b * c)[:, None, None] * (s[:, None, None] * np.eye(3) + (1 - s)[:, None, None] * _GREY)
    offset = (1 - c) * b * mean  # one value for all channels: grey and permutations leave it as it is
    mix = np.where(grey[:, None, None], _GREY, np.eye(3))
    if shuffle is not None:
        order = np.argsort(rng.random((n, 3)), axis=1)
        mix = np.where(shuffle[:, None, None], np.eye(3)[order] @ mix, mix)
    y = x @ (mix @ matrix).transpose(0, 2, 1).astype(np.float32)
    y += offset[:, None, None].astype(np.float32)
    np.clip(y, 0, 255, out=y)
    views[:] = y.reshape(views.shape).astype(np.uint8)
