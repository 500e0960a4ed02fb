"""Concept sets: which items (dataset frames or images) show which concept, from three sources.

- `dataset`: the `labels` column of the dataset's frames table (label sidecars, e.g. the synthetic
  corpus); frames of videos without a sidecar are not labelled and take no part.
- `folder`: a directory with one subfolder of images per concept and an optional `none/` of images
  showing none of them. An image's negatives for concept c are every image outside `c/`. Images PIL
  cannot read are skipped and counted.
- `exemplars`: a few images per concept (same folder layout), each expanded into its nearest dataset
  frames by k-NN over the frame embeddings; the union is the concept's positives, every other frame a
  negative. These are pseudo-labels and are reported under their own label source.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from PIL import Image
from unitscope.pipeline.dataset import Dataset
from unitscope.pipeline.schema import FRAMES_TABLE, VISIBLE_MIN, parse_frame_key
from unitscope.probe.activations import decode
from unitscope.probe.store import ActivationStore

from unitscope.core import storage
from unitscope.core.errors import InputError

NEGATIVES = "none"


@dataclass
class ConceptSet:
    source: str  # a catalog.LABEL_SOURCES entry
    items: list[str]  # frame keys, or image paths for `folder`
    groups: list[str]  # what the split keeps together: video ids, or the image itself
    labels: dict[str, np.ndarray]  # concept -> bool over items
    unreadable: list[str] = field(default_factory=list)
    images: list[Image.Image] | None = None  # `folder` only: the decoded images, in item order
    strata: list[str] | None = None  # `folder` only: each image's subfolder, split separately


def _stored_frames(ds: Dataset, store: ActivationStore, columns: list[str]) -> Iterator[pa.RecordBatch]:
    """Batches of the frames table (`columns`) cut to the frames that have stored activations. The table
    is in shard order, so one shard's stored keys are held at a time, never a set of every key."""
    held: dict[int, pa.Array] = {}
    for batch in storage.iter_parquet(ds.fs, storage.join(ds.root, FRAMES_TABLE), ["shard", *columns]):
        shard = batch.column("shard")
        keep = pa.array(np.zeros(len(batch), bool))
        for s in pc.unique(shard).to_pylist():
            if s not in held:
                held.clear()
                held[s] = pa.array(store.keys(s) if store.has_chunk(s) else [], pa.string())
            mask = pc.and_(pc.equal(shard, s), pc.is_in(batch.column("key"), value_set=held[s]))
            keep = pc.or_(keep, mask)
        yield batch.filter(keep).select(columns)


def _videos_within(counts: dict[str, int], max_frames: int, seed: int) -> set[str] | None:
    """Whole videos, in a seeded order, while their frames fit in `max_frames` (None: every video fits)."""
    if sum(counts.values()) <= max_frames:
        return None
    kept: set[str] = set()
    n = 0
    for v in sorted(counts, key=lambda v: hashlib.sha1(f"cap{seed}:{v}".encode()).hexdigest()):
        if n + counts[v] > max_frames and kept:
            break
        kept.add(v)
        n += counts[v]
    return kept


def _capped(batches: Callable[[], Iterable[pa.RecordBatch]], max_frames: int, seed: int) -> dict[str, list]:
    """The rows of `batches()` (read twice: counts per video, then the rows) of at most `max_frames`
    frames, whole videos, as lists in table order."""
    counts: Counter[str] = Counter()
    for batch in batches():
        counts.update(batch.column("video_id").to_pylist())
    chosen = _videos_within(counts, max_frames, seed)
    parts = [
        b
        if chosen is None
        else b.filter(pc.is_in(b.column("video_id"), value_set=pa.array(sorted(chosen), pa.string())))
        for b in batches()
    ]
    return pa.Table.from_batches(parts).to_pydict() if parts else {}


def dataset_labels(dataset_url: str, store: ActivationStore, max_frames: int, seed: int) -> ConceptSet:
    """Labelled frames of the dataset that have stored activations (at most `max_frames`, whole videos),
    streamed from the frames table: memory grows with the frames kept, not with the dataset."""
    ds = Dataset(dataset_url)
    videos = ds.videos().select(["video_id", "has_labels"]).to_pydict()
    labelled = pa.array(
        [v for v, has in zip(videos["video_id"], videos["has_labels"], strict=True) if has], pa.string()
    )

    def rows() -> Iterator[pa.RecordBatch]:
        for b in _stored_frames(ds, store, ["key", "video_id", "labels"]):
            yield b.filter(pc.is_in(b.column("video_id"), value_set=labelled))

    kept = _capped(rows, max_frames, seed)
    items, groups, frame_labels = kept.get("key", []), kept.get("video_id", []), kept.get("labels", [])
    names = sorted({c for ls in frame_labels for c in ls or []})
    labels = {c: np.array([c in (ls or []) for ls in frame_labels], dtype=bool) for c in names}
    return ConceptSet("dataset", items, groups, labels)


def unlabelled_frames(store: ActivationStore, max_frames: int, seed: int) -> ConceptSet:
    """Stored frames (at most `max_frames`, whole videos) to expand exemplars over, without labels."""

    def rows() -> Iterator[pa.RecordBatch]:
        for shard in store.shards():
            keys = store.keys(shard)
            videos = [parse_frame_key(k)[0] for k in keys]
            yield pa.record_batch(
                [pa.array(keys, pa.string()), pa.array(videos, pa.string())], ["key", "video_id"]
            )

    kept = _capped(rows, max_frames, seed)
    return ConceptSet("exemplars", kept.get("key", []), kept.get("video_id", []), {})


def read_folder(url: str, size: int) -> tuple[dict[str, list[tuple[str, Image.Image]]], list[str]]:
    """{subfolder: [(path, image resized like frames)]} and the paths that could not be read."""
    fs, root = storage.url_to_fs(url.rstrip("/"))
    if not fs.isdir(root):
        raise InputError(f"concepts folder {url} does not exist or is not a directory")
    out: dict[str, list[tuple[str, Image.Image]]] = {}
    unreadable: list[str] = []
    for sub in sorted(fs.ls(root, detail=True), key=lambda e: e["name"]):
        if sub["type"] != "directory":
            continue
        name = sub["name"].rstrip("/").rsplit("/", 1)[-1]
        images = []
        for entry in sorted(fs.find(sub["name"])):
            img = decode(fs.cat_file(entry))
            if img is None:
                unreadable.append(entry)
            else:
                images.append((entry, frame_like(img, size)))
        out[name] = images
    if not [n for n in out if n != NEGATIVES]:
        raise InputError(
            f"concepts folder {url} has no concept subfolders; put each concept's images in "
            f"{url}/<concept>/ (and images showing none of them in {url}/{NEGATIVES}/)"
        )
    return out, unreadable


def frame_like(img: Image.Image, size: int) -> Image.Image:
    """Resize the short side to `size` and center-crop to a square, as ingest does with frames."""
    w, h = img.size
    scale = size / min(w, h)
    img = img.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.BILINEAR)
    w, h = img.size
    left, top = (w - size) // 2, (h - size) // 2
    return img.crop((left, top, left + size, top + size))


def folder_labels(url: str, size: int) -> ConceptSet:
    """A concept set of labelled images (a concept with too few is skipped when scored, as any source's)."""
    folders, unreadable = read_folder(url, size)
    items, images, owner = [], [], []
    for name, entries in folders.items():
        for path, img in entries:
            items.append(path)
            images.append(img)
            owner.append(name)
    owner_arr = np.array(owner)
    labels = {n: owner_arr == n for n in folders if n != NEGATIVES}
    return ConceptSet("folder", items, list(items), labels, unreadable, images, owner)


def exemplar_labels(exemplar_hits: dict[str, set[str]], frames: ConceptSet) -> ConceptSet:
    """Pseudo-labels over the frames of `frames`: a frame is positive for c when it is among the
    nearest neighbours of one of c's exemplars (`exemplar_hits[c]`)."""
    labels = {c: np.array([k in hits for k in frames.items], dtype=bool) for c, hits in exemplar_hits.items()}
    return ConceptSet("exemplars", frames.items, frames.groups, labels)


def unseen_concepts(dataset_url: str, frames: ConceptSet) -> dict[str, str]:
    """{concept: why} for the concepts the dataset's labels name (dataset.json) that no probed frame
    carries: named among the unscored, never left out without a word."""
    listed = Dataset(dataset_url).info().get("concepts", [])
    return {
        c: f"concept {c!r} is named by the dataset's labels but no probed frame carries it: check that its "
        f"boxes lie inside the frames and that its visible fraction reaches {VISIBLE_MIN} (docs/outputs.md)"
        for c in listed
        if c not in frames.labels
    }
