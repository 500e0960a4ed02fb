"""The pictures of a dissection: PNGs of stimuli and templates, inline SVG of invariance curves."""

from __future__ import annotations

import html
import io

import numpy as np
from PIL import Image

CURVE, BAND, REF = "#1c7ed6", "#a5d8ff", "#e03131"


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


def curve_svg(curve: dict, reference: float, title: str, unit: str, w: int = 300, h: int = 150) -> str:
    """Mean response (line) with its 25-75% band over the transform's steps, the reference dashed."""
    xs = np.asarray(curve["values"], float)
    log = curve["transform"] == "scale"
    xv = np.log2(xs) if log else xs
    ys = [np.asarray(curve[k], float) for k in ("mean", "lo", "hi")]
    lo = min(min(float(y.min()) for y in ys), reference)
    hi = max(max(float(y.max()) for y in ys), reference)
    hi = hi if hi > lo else lo + 1.0
    pl, pr, pt, pb = 34, 8, 18, 28

    def px(v):
        return pl + (w - pl - pr) * (v - xv[0]) / (xv[-1] - xv[0])

    def py(v):
        return pt + (h - pt - pb) * (hi - v) / (hi - lo)

    band = [f"{px(a):.1f},{py(b):.1f}" for a, b in zip(xv, ys[2], strict=True)]
    band += [f"{px(a):.1f},{py(b):.1f}" for a, b in zip(xv[::-1], ys[1][::-1], strict=True)]
    line = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(xv, ys[0], strict=True))
    parts = [
        f'<text x="{pl}" y="12" font-size="12" font-weight="600">{html.escape(title)}</text>',
        f'<polygon points="{" ".join(band)}" fill="{BAND}" fill-opacity="0.7"/>',
        f'<polyline points="{line}" fill="none" stroke="{CURVE}" stroke-width="2"/>',
        f'<line x1="{pl}" x2="{w - pr}" y1="{py(reference):.1f}" y2="{py(reference):.1f}" stroke="{REF}" '
        'stroke-dasharray="4 3"/>',
        f'<text x="{pl - 3}" y="{pt + 4}" font-size="9" text-anchor="end">{hi:.2g}</text>',
        f'<text x="{pl - 3}" y="{h - pb}" font-size="9" text-anchor="end">{lo:.2g}</text>',
    ]
    r = curve.get("range")
    if r:
        a, b = (np.log2(r[0]), np.log2(r[1])) if log else r
        parts.append(f'<rect x="{px(a):.1f}" y="{h - pb + 2}" width="{max(px(b) - px(a), 2):.1f}" height="4" '
                     f'fill="{CURVE}"/>')  # fmt: skip
    for v, label in ((xv[0], xs[0]), (xv[len(xv) // 2], xs[len(xs) // 2]), (xv[-1], xs[-1])):
        parts.append(
            f'<text x="{px(v):.1f}" y="{h - pb + 16}" font-size="9" text-anchor="middle">{label:g}</text>'
        )
    parts.append(f'<text x="{w - pr}" y="{h - 2}" font-size="9" text-anchor="end">{html.escape(unit)}</text>')
    return f'<svg width="{w}" height="{h}" viewBox="0 0 {w} {h}">{"".join(parts)}</svg>'
