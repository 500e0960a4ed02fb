"""A stand-in probed run of any size, written in seconds: dataset shards + manifest in the real formats,
and catalogue/units tables + a frame index shaped like the probe's. For the query benchmark's 100,000
frames, which the real stages cannot produce cheaply."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image
from unitscope.pipeline import schema
from unitscope.probe import catalog, frame_index


def _jpegs(n: int, size: int, rng: np.random.Generator) -> list[bytes]:
    out = []
    for _ in range(n):
        arr = rng.integers(0, 256, (size // 8, size // 8, 3), dtype=np.uint8)
        buf = io.BytesIO()
        Image.fromarray(arr).resize((size, size)).save(buf, "JPEG", quality=80)
        out.append(buf.getvalue())
    return out


def write_dataset(
    root: Path, frames: int, videos: int = 100, shard_frames: int = 5000, size: int = 64
) -> list[str]:
    """Shards and manifest of `frames` frames; returns the frame keys in manifest order."""
    rng = np.random.default_rng(0)
    pics = _jpegs(64, size, rng)
    (root / schema.SHARDS_DIR).mkdir(parents=True, exist_ok=True)
    (root / schema.MANIFEST_DIR).mkdir(parents=True, exist_ok=True)
    uris = [f"file:///videos/clip{v:04d}.mp4" for v in range(videos)]
    vids = [schema.video_id(u) for u in uris]
    per_video = -(-frames // videos)
    rows: dict[str, list] = {f.name: [] for f in schema.FRAMES_SCHEMA}
    for i in range(frames):
        v, idx = divmod(i, per_video)
        shard = i // shard_frames
        rows["key"].append(schema.frame_key(vids[v], idx))
        rows["video_id"].append(vids[v])
        rows["shard"].append(shard)
        rows["frame_idx"].append(idx)
        rows["pts"].append(idx / 2.0)
        rows["labels"].append(["face"] if i % 7 == 0 else [])
    for shard in range(-(-frames // shard_frames)):
        lo, hi = shard * shard_frames, min(frames, (shard + 1) * shard_frames)
        path = root / schema.shard_path(shard)
        with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tf:
            for i in range(lo, hi):
                for ext, data in (
                    ("jpg", pics[i % len(pics)]),
                    ("json", json.dumps({"uri": uris[i // per_video]}).encode()),
                ):
                    info = tarfile.TarInfo(f"{rows['key'][i]}.{ext}")
                    info.size = len(data)
                    tf.addfile(info, io.BytesIO(data))
        with tarfile.open(path) as tf:
            where = {m.name: (m.offset_data, m.size) for m in tf if m.name.endswith(".jpg")}
        for i in range(lo, hi):
            off, n = where[f"{rows['key'][i]}.jpg"]
            rows["jpg_offset"].append(off)
            rows["jpg_size"].append(n)
    pq.write_table(pa.table(rows, schema=schema.FRAMES_SCHEMA), root / schema.FRAMES_TABLE)
    vrows = {f.name: [] for f in schema.VIDEOS_SCHEMA}
    for v, (u, vid) in enumerate(zip(uris, vids, strict=True)):
        for name, val in (
            ("uri", u),
            ("video_id", vid),
            ("shard", v * per_video // shard_frames),
            ("status", "ok"),
            ("error", None),
            ("codec", "h264"),
            ("duration", per_video / 2),
            ("fps", 25.0),
            ("width", size),
            ("height", size),
            ("size_bytes", 0),
            ("frames_written", per_video),
            ("has_labels", True),
        ):
            vrows[name].append(val)
    pq.write_table(pa.table(vrows, schema=schema.VIDEOS_SCHEMA), root / schema.VIDEOS_TABLE)
    (root / schema.DATASET_JSON).write_text(json.dumps({"format_version": schema.FORMAT_VERSION}))
    return rows["key"]


def write_encoder(run: Path, arch: str = "conv4", width: int = 32, input_size: int = 64) -> dict[str, int]:
    """The train stage's default encoder architecture with random weights, saved as the run's encoder;
    returns {layer: channels}."""
    from unitscope.train.encoder import EncoderSpec, build_encoder
    from unitscope.train.model_io import save_encoder

    spec = EncoderSpec.create(arch, width, None, input_size)
    save_encoder(build_encoder(spec, seed=0), str(run))
    return dict(zip(spec.layers, spec.channels, strict=True))


def write_probe(
    run: Path,
    dataset: Path,
    keys: list[str],
    layers: dict[str, int],
    concepts: list[str],
    dim: int = 32,
    top: int = 16,
) -> None:
    """CatalogView and units tables, frame index and probe.json shaped like the probe stage's."""
    rng = np.random.default_rng(1)
    out = run / catalog.PROBE_DIR
    out.mkdir(parents=True, exist_ok=True)
    units = []
    for layer, n in layers.items():
        for c in range(n):
            counts = rng.integers(0, 100, 20).tolist()
            picks = rng.choice(len(keys), top, replace=False)
            values = np.sort(rng.normal(3, 1, top))[::-1]
            units.append(
                {
                    "unit": f"{layer}/{c}",
                    "layer": layer,
                    "channel": c,
                    "mean": float(rng.normal()),
                    "std": float(rng.uniform(0.5, 2)),
                    "top_keys": [keys[p] for p in picks],
                    "top_values": values.tolist(),
                    "hist_counts": counts,
                    "hist_edges": np.linspace(-3, 3, 21).tolist(),
                }
            )
    catalog.write_table(str(run / catalog.UNITS_TABLE), units, catalog.UNITS_SCHEMA)
    rows = []
    for concept in concepts:
        chosen = rng.choice(len(units), min(10, len(units)), replace=False)
        aucs = np.sort(rng.uniform(0.5, 1.0, len(chosen)))[::-1]
        for rank, (u, auc) in enumerate(zip(chosen, aucs, strict=True), start=1):
            unit = units[u]
            rows.append(
                {
                    "unit": unit["unit"],
                    "layer": unit["layer"],
                    "channel": unit["channel"],
                    "concept": concept,
                    "label_source": "dataset",
                    "rank": rank,
                    "auc": float(auc),
                    "accuracy": float(auc) - 0.05,
                    "threshold": 1.0,
                    "select_auc": float(auc) + 0.01,
                    "n_select_pos": 10,
                    "n_select_neg": 90,
                    "n_eval_pos": 10,
                    "n_eval_neg": 90,
                    "random_auc": 0.55,
                    "random_unit": unit["unit"],
                    "p_value": 0.01,
                    "is_detector": bool(auc > 0.8),
                    "top_keys": unit["top_keys"][:5],
                }
            )
    catalog.write_table(str(run / catalog.CATALOG_TABLE), rows, catalog.CATALOG_SCHEMA)
    emb = rng.normal(size=(len(keys), dim)).astype(np.float32)
    frame_index.write(str(run), [(keys, emb)])
    info = {"dataset": str(dataset), "pool": "max", "layers": list(layers), "channels": list(layers.values())}
    (run / catalog.PROBE_JSON).write_text(json.dumps(info))
