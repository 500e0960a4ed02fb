"""The query functions over one probed run; the CLI and the HTTP API are thin layers over these."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
from unitscope.pipeline import schema
from unitscope.probe.query.catalog_view import CatalogView, parse_unit
from unitscope.probe.query.errors import BadQuery
from unitscope.probe.query.frames import FrameStore
from unitscope.probe.query.image import ImageEncoder, decode_image
from unitscope.probe.query.neighbors import FrameIndex


class RunQueries:
    """Everything a query needs from a probed run: the catalogue, loaded at once; the frame manifest,
    frame index and encoder, each loaded when first needed (`load_all` loads them up front).

    A frame in an answer names its video by id and file name (`video_id`, `video`); with
    `video_uris` (the default, for the operator's `unitscope query`) also by where it is stored
    (`video_uri`), which the query server, answering clients, leaves out."""

    def __init__(
        self,
        run_url: str,
        dataset_url: str | None = None,
        threads: int | None = None,
        *,
        video_uris: bool = True,
        nprobe: int | None = None,
    ):
        self.run_url = run_url.rstrip("/")
        self.threads = threads  # FAISS threads per frame-index search (None: every core)
        self.nprobe = nprobe  # IVF lists searched per query (None: the default the index was built with)
        self.video_uris = video_uris
        self.catalog = CatalogView(self.run_url)
        self.dataset_url = dataset_url or self.catalog.dataset
        c = self.catalog
        self.encoder = ImageEncoder(self.run_url, c.layers, c.pool, c.mean, c.std)

    @cached_property
    def frames(self) -> FrameStore:
        return FrameStore(self.dataset_url)

    @cached_property
    def index(self) -> FrameIndex:
        return FrameIndex(self.run_url, self.frames.lookup, self.threads, self.nprobe, self.dataset_url)

    def load_all(self) -> RunQueries:
        """Load the frame manifest and frame index now (a server's start-up), failing early if absent."""
        _ = self.frames, self.index
        return self

    # concept → units
    def concepts(self) -> list[dict[str, Any]]:
        return self.catalog.concepts()

    def concept_units(self, name: str, top: int = 10) -> list[dict[str, Any]]:
        return self.catalog.concept_units(name, top)

    # unit → labels and frames
    def unit(self, unit: str, top: int = 10) -> dict[str, Any]:
        """Statistics, concept labels (best first) and top-activating frames of `LAYER/CHANNEL`."""
        layer, channel = parse_unit(unit)
        row = self.catalog.unit(layer, channel)
        return {
            "unit": row["unit"],
            "layer": layer,
            "channel": channel,
            "mean": row["mean"],
            "std": row["std"],
            "histogram": {"counts": row["hist_counts"], "edges": row["hist_edges"]},
            "concepts": self.catalog.unit_labels(row["unit"]),
            "frames": self.unit_frames(unit, top),
        }

    def unit_frames(self, unit: str, top: int = 10) -> list[dict[str, Any]]:
        """The frames that activate `unit` most: key, activation, video, timestamp, labels."""
        layer, channel = parse_unit(unit)
        row = self.catalog.unit(layer, channel)
        return [
            self.frame(k, activation=v)
            for k, v in zip(row["top_keys"][:top], row["top_values"][:top], strict=False)
        ]

    def frame(self, key: str, row: int | None = None, **extra: Any) -> dict[str, Any]:
        """Frame `key`'s answer; `row`, its manifest row where a search found it, saves a lookup."""
        info = self.frames.info(key) if row is None else self.frames.info_at(row, key)
        where = {"video_uri": info.video_uri} if self.video_uris else {}
        return {
            "key": key,
            **extra,
            "video_id": info.video_id,
            "video": info.video,
            **where,
            "frame_idx": info.frame_idx,
            "pts": info.pts,
            "labels": info.labels,
        }

    def frame_jpeg(self, key: str) -> bytes:
        """JPEG bytes of frame `key` (a valid key present in the dataset; NotFound otherwise)."""
        try:
            schema.parse_frame_key(key)
        except ValueError as exc:
            raise BadQuery(str(exc)) from None
        return self.frames.read_jpeg(key)

    def neighbors(self, key: str, top: int = 10) -> list[dict[str, Any]]:
        """The dataset frames nearest to frame `key` in the encoder's embedding space."""
        return self.neighbors_of([self.check_indexed(key)], [top])[0]

    def check_indexed(self, key: str) -> str:
        """`key` when it names a frame of the dataset that the frame index holds; BadQuery or NotFound."""
        try:
            schema.parse_frame_key(key)
        except ValueError as exc:
            raise BadQuery(str(exc)) from None
        self.frames.row(key)
        self.index.row_of(key)
        return key

    def neighbors_of(self, keys: list[str], tops: list[int]) -> list[list[dict[str, Any]]]:
        """`neighbors` of each of `keys` (checked with `check_indexed`), `tops[i]` for the i-th, in one
        index search."""
        hits = self.index.neighbors(keys, max(tops))
        return [[self.frame(k, r, score=s) for k, s, r in h[:top]] for h, top in zip(hits, tops, strict=True)]

    # image → units + nearest frames
    def images(self, blobs: list[bytes], top: int = 10) -> list[dict[str, Any]]:
        """For each encoded image: the units that fire most (z-score) with their labels, and the
        nearest dataset frames. Images are decoded first so a bad one fails before any work."""
        decoded = [decode_image(b) for b in blobs]
        return self.describe(decoded, [top] * len(decoded))

    def describe(self, images: list, tops: list[int]) -> list[dict[str, Any]]:
        """`images` (decoded RGB) in one encoder batch; the i-th answer holds `tops[i]` units and frames."""
        return self.answers(*self.encoder.encode(images), tops)

    def answers(self, z: np.ndarray, emb: np.ndarray, tops: list[int]) -> list[dict[str, Any]]:
        """The answers for encoded images (`ImageEncoder.encode`'s z-scores and embeddings): one index
        search for the whole batch, then the i-th image's `tops[i]` units and nearest frames."""
        hits = self.index.search(emb, max(tops))
        out = []
        for i, top in enumerate(tops):
            best = np.argsort(-z[i], kind="stable")[:top]
            units = [
                {"unit": self.catalog.unit_names[j], "z": float(z[i, j]), "concepts": self._labels(j)}
                for j in best
            ]
            out.append(
                {"units": units, "neighbors": [self.frame(k, r, score=s) for k, s, r in hits[i][:top]]}
            )
        return out

    def _labels(self, column: int) -> list[dict[str, Any]]:
        rows = self.catalog.unit_labels(self.catalog.unit_names[column])
        return [{"concept": r["concept"], "auc": r["auc"], "is_detector": r["is_detector"]} for r in rows]

    def image(self, data: bytes, top: int = 10) -> dict[str, Any]:
        return self.images([data], top)[0]
