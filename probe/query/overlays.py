"""Overlays for queries: a unit's map on one of the dataset's frames, as PNG, with the frame's boxes and a
mark for whether it carries the unit's best concept (probe/overlay.py draws them).

Maps are computed only for the frames asked for (a unit's top frames, one frame per HTTP request), with
the run's trained encoder, on the lock the query encoder uses: one forward pass at a time.
"""

from __future__ import annotations

from unitscope.pipeline import schema
from unitscope.probe import overlay
from unitscope.probe.boxes import read_frame
from unitscope.probe.encoders import default_device, open_encoder
from unitscope.probe.query.catalog_view import parse_unit
from unitscope.probe.query.errors import BadQuery, NotFound
from unitscope.probe.query.service import RunQueries

LOCATION = ("shard", "jpg_offset", "jpg_size")


class UnitOverlays:
    """Overlay PNGs of one run's units on its dataset's frames."""

    def __init__(self, q: RunQueries):
        self.q = q

    def _encoder(self, layer: str):
        enc = open_encoder(self.q.run_url, "trained", 0, default_device())
        if layer not in enc.spec.layers:
            raise NotFound(f"layer {layer!r} has no spatial maps: the encoder's layers are {enc.spec.layers}")
        return enc

    def concept(self, unit: str) -> str | None:
        """The concept the unit ranks best for (its boxes are drawn solid), None without one."""
        rows = self.q.catalog.unit_labels(unit)
        return rows[0]["concept"] if rows else None

    def pngs(self, unit: str, keys: list[str]) -> list[bytes]:
        """The overlay PNG of `unit` (LAYER/CHANNEL) on each frame of `keys`, in order."""
        layer, channel = parse_unit(unit)
        self.q.catalog.unit(layer, channel)  # NotFound for a unit the probe did not cover
        frames = []
        for key in keys:
            try:
                schema.parse_frame_key(key)
            except ValueError as exc:
                raise BadQuery(str(exc)) from None
            row = self.q.frames.row(key)  # NotFound for a frame the dataset does not hold
            where = tuple(int(self.q.frames.lookup.value(c, row)) for c in LOCATION)
            frames.append(read_frame(self.q.frames.dataset, key, where))
        with self.q.encoder._lock:
            enc = self._encoder(layer)
            return overlay.unit_overlays(enc, frames, (layer, channel), self.concept(f"{layer}/{channel}"))

    def png(self, unit: str, key: str) -> bytes:
        return self.pngs(unit, [key])[0]
