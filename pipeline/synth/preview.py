"""A contact sheet of corpus frames with their labels drawn, so a person can see what the corpus holds.

Tiles are rendered from the same scenes as the clips (same seed, same frames), half-size, in a grid of
`COLUMNS`; each shows the labelled boxes (concept name and visible fraction) and, dimly, the centre
square that ingest's centre crop keeps. The sheet is written as PNG to any fsspec path.
"""

from __future__ import annotations

import io
import math
import posixpath

from PIL import Image, ImageDraw
from unitscope.pipeline import schema
from unitscope.pipeline.synth.concepts import CONCEPT_KINDS
from unitscope.pipeline.synth.config import SynthConfig
from unitscope.pipeline.synth.scene import Scene

from unitscope.core import storage

COLUMNS = 4
TILES = 12
CAPTION = 14


def tile_size(cfg: SynthConfig) -> tuple[int, int]:
    return cfg.width // 2, cfg.height // 2


def sheet_size(cfg: SynthConfig, tiles: int = TILES) -> tuple[int, int]:
    """(width, height) of the contact sheet for `tiles` tiles."""
    tw, th = tile_size(cfg)
    cols = min(COLUMNS, tiles)
    return cols * tw, math.ceil(tiles / cols) * (th + CAPTION)


def _picks(cfg: SynthConfig, scene: Scene, slot: int, per_clip: int) -> int:
    """The frame shown in the `slot`-th tile of a clip: of a few evenly spaced candidates, the one with the
    most labelled concepts on screen (cheap to find: tracks know when they run)."""
    n = cfg.frames
    lo, hi = slot * n // per_clip, max(slot * n // per_clip + 1, (slot + 1) * n // per_clip)
    candidates = range(lo, hi, max(1, (hi - lo) // 6))
    return max(candidates, key=lambda i: sum(t.concept and t.start <= i < t.end for t in scene.tracks))


def contact_sheet(cfg: SynthConfig, tiles: int = TILES) -> Image.Image:
    """Render the contact sheet image: tiles spread over the clips and over time."""
    tw, th = tile_size(cfg)
    sheet = Image.new("RGB", sheet_size(cfg, tiles), (16, 16, 16))
    draw = ImageDraw.Draw(sheet)
    clips = min(cfg.videos, tiles)
    per_clip = math.ceil(tiles / clips)
    scenes: dict[int, Scene] = {}
    for j in range(tiles):
        clip, slot = j % clips, j // clips
        scene = scenes.setdefault(clip, Scene(cfg, clip))
        i = _picks(cfg, scene, slot, per_clip)
        rgb, observations = scene.render(i)
        tile = Image.fromarray(rgb).resize((tw, th), Image.BILINEAR)
        tdraw = ImageDraw.Draw(tile)
        half = th / 2
        tdraw.rectangle((tw / 2 - half, 0, tw / 2 + half - 1, th - 1), outline=(90, 90, 90))
        for o in observations:
            if o.concept and o.visible >= schema.VISIBLE_MIN:
                box = [v / 2 for v in o.box]
                colour = CONCEPT_KINDS[o.kind].colour if o.kind in CONCEPT_KINDS else (255, 255, 255)
                tdraw.rectangle(box, outline=colour, width=2)
                tdraw.text((box[0] + 3, box[1] + 2), f"{o.kind} {o.visible:.2f}", fill=colour)
        x, y = (j % COLUMNS) * tw, (j // COLUMNS) * (th + CAPTION)
        sheet.paste(tile, (x, y))
        draw.text((x + 4, y + th + 1), f"{cfg.clip_name(clip)} frame {i}", fill=(220, 220, 220))
    return sheet


def write_preview(cfg: SynthConfig, path: str, tiles: int = TILES) -> str:
    """Write the contact sheet as PNG to `path` (any fsspec URL) and return the path."""
    buf = io.BytesIO()
    contact_sheet(cfg, tiles).save(buf, format="PNG")
    fs, p = storage.url_to_fs(path)
    parent = posixpath.dirname(p)
    if parent:
        fs.makedirs(parent, exist_ok=True)
    fs.pipe_file(p, buf.getvalue())
    return path
