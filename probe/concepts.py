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
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from pipeline import storage
from pipeline.dataset import Dataset
from pipeline.errors import InputError
from pipeline.schema import parse_frame_key
from probe.activations import decode

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


def dataset_labels(dataset_url: str, stored_keys: set[str], max_frames: int, seed: int) -> ConceptSet:
    """Labelled frames of the dataset that have stored activations (at most `max_frames`, whole videos)."""
    ds = Dataset(dataset_url)
    frames = ds.frames().select(["key", "video_id", "labels"]).to_pydict()
    videos = ds.videos().select(["video_id", "has_labels"]).to_pydict()
    labelled_videos = {v for v, has in zip(videos["video_id"], videos["has_labels"], strict=True) if has}
    rows = [
        i
        for i, (k, v) in enumerate(zip(frames["key"], frames["video_id"], strict=True))
        if v in labelled_videos and k in stored_keys
    ]
    rows = _cap_by_video(rows, frames["video_id"], max_frames, seed)
    items = [frames["key"][i] for i in rows]
    groups = [frames["video_id"][i] for i in rows]
    names = sorted({c for i in rows for c in frames["labels"][i] or []})
    labels = {c: np.array([c in (frames["labels"][i] or []) for i in rows], dtype=bool) for c in names}
    return ConceptSet("dataset", items, groups, labels)


def unlabelled_frames(keys: list[str], max_frames: int, seed: int) -> ConceptSet:
    """Stored frames (at most `max_frames`, whole videos) to expand exemplars over, without labels."""
    videos = [parse_frame_key(k)[0] for k in keys]
    rows = _cap_by_video(list(range(len(keys))), videos, max_frames, seed)
    return ConceptSet("exemplars", [keys[i] for i in rows], [videos[i] for i in rows], {})


def _cap_by_video(rows: list[int], video_of: list[str], max_frames: int, seed: int) -> list[int]:
    if len(rows) <= max_frames:
        return rows
    by_video: dict[str, list[int]] = {}
    for i in rows:
        by_video.setdefault(video_of[i], []).append(i)
    order = sorted(by_video, key=lambda v: hashlib.sha1(f"cap{seed}:{v}".encode()).hexdigest())
    kept: list[int] = []
    for v in order:
        if len(kept) + len(by_video[v]) > max_frames and kept:
            break
        kept.extend(by_video[v])
    return sorted(kept)


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


def folder_labels(url: str, size: int, min_examples: int) -> ConceptSet:
    """A concept set of labelled images; InputError when a concept has too few readable images."""
    folders, unreadable = read_folder(url, size)
    need = 2 * min_examples  # min_examples in each of the two splits
    for name, images in folders.items():
        if name != NEGATIVES and len(images) < need:
            raise InputError(
                f"concept {name!r} has {len(images)} readable image(s) in {url}/{name}; at least {need} "
                f"are needed ({min_examples} for each of the selection and evaluation splits). Add "
                f"images or lower min_examples"
                + (f" ({len(unreadable)} unreadable image(s) were skipped)" if unreadable else "")
            )
    items, images, owner = [], [], []
    for name, entries in folders.items():
        for path, img in entries:
            items.append(path)
            images.append(img)
            owner.append(name)
    owner_arr = np.array(owner)
    labels = {n: owner_arr == n for n in folders if n != NEGATIVES}
    return ConceptSet("folder", items, list(items), labels, unreadable, images, owner)


def exemplar_labels(exemplar_hits: dict[str, set[str]], frames: ConceptSet, min_examples: int) -> ConceptSet:
    """Pseudo-labels over the frames of `frames`: a frame is positive for c when it is among the
    nearest neighbours of one of c's exemplars (`exemplar_hits[c]`)."""
    labels = {c: np.array([k in hits for k in frames.items], dtype=bool) for c, hits in exemplar_hits.items()}
    for c, y in labels.items():
        if y.sum() < 2 * min_examples:
            raise InputError(
                f"exemplars of {c!r} expanded to {int(y.sum())} labelled frame(s), fewer than "
                f"{2 * min_examples}; add exemplars or raise exemplar_k"
            )
    return ConceptSet("exemplars", frames.items, frames.groups, labels)
