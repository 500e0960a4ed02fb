"""The probe stage's entry point: `run(ProbeConfig) -> ProbeResult`.

activations (Ray, per shard) → units.parquet + frame index → concept sets → unit search with controls
→ catalog.parquet, probe.json, report.html, all under RUN/probe/.
"""

from __future__ import annotations

import json
import logging
import time

import numpy as np
from pydantic import BaseModel
from unitscope.pipeline import shard_check
from unitscope.pipeline.damage import Damage
from unitscope.pipeline.dataset import Dataset
from unitscope.pipeline.shard_check import ShardRecord
from unitscope.probe import activations, concepts, frame_index, ivf_index, map_scores, report
from unitscope.probe.catalog import (
    CATALOG_SCHEMA,
    CATALOG_TABLE,
    FRAME_INDEX,
    PROBE_JSON,
    REPORT_HTML,
    UNITS_SCHEMA,
    UNITS_TABLE,
)
from unitscope.probe.catalog import write_table as write_parquet
from unitscope.probe.concepts import ConceptSet
from unitscope.probe.config import ProbeConfig
from unitscope.probe.encoders import check_run, fingerprint
from unitscope.probe.evaluation import ConceptResult, catalog_rows, require_scored, score_set
from unitscope.probe.store import EMBEDDINGS, ActivationStore, StoreMeta, write_bytes
from unitscope.probe.units import column_top, unit_rows

from unitscope.core.errors import ConfigError, InputError
from unitscope.core.ray_runtime import ensure_ray
from unitscope.core.storage import absolute, file_sha256

log = logging.getLogger(__name__)


class ProbeResult(BaseModel):
    run: str
    catalog: str
    report: str
    frames: int
    units: int
    table: list[dict]  # one row per concept: its best unit and the controls
    skipped_concepts: dict[str, str]
    failed_shards: list[dict]
    unreadable_images: list[str]
    seconds: float
    bad_frames: int = 0
    damage: str | None = None  # the warning line when damaged shards cost frames below the threshold


def list_shards(ds: Dataset) -> tuple[list[ShardRecord], list[str]]:
    """The dataset's committed shards that hold frames (with what the manifest says of each), and their
    checksums."""
    recs = shard_check.records(ds)
    if not recs:
        raise InputError(f"{ds.url} has no committed shard with frames: re-run `unitscope ingest`")
    return recs, [r.sha256 or "" for r in recs]


def damage_of(statuses: list[activations.ActivationResult], records: list[ShardRecord]) -> Damage:
    """What the activations met: frames of the manifest that could not be used, by shard."""
    total = sum(r.frames or 0 for r in records)
    damage = Damage("probe", total)
    urls = {r.index: r.url for r in records}
    for s in statuses:
        if s.status == "failed" or s.damage or s.bad_frames:
            damage.add(urls.get(s.shard, str(s.shard)), s.damage or s.error or "unreadable", s.bad_frames)
    return damage


def _activations(
    cfg: ProbeConfig, layers: list[str]
) -> tuple[ActivationStore, StoreMeta, list, activations.EncodeSpec, str | None]:
    store = ActivationStore(cfg.run)
    ds = Dataset(cfg.dataset)
    shards, checksums = list_shards(ds)
    fp = fingerprint(cfg.run, cfg.dataset, checksums, layers, cfg.pool, cfg.seed)
    fp += "+random" if cfg.random_control else ""
    if store.reset_if_stale(fp):
        log.info("stored activations were computed for another encoder or layers: recomputing")
    spec = activations.EncodeSpec(cfg.run.rstrip("/"), tuple(layers), cfg.pool, cfg.seed, cfg.random_control,
                                  cfg.batch_size, cfg.device, token=fp)  # fmt: skip
    specs = [activations.ActivationTask(spec, r.index, r.url, r) for r in shards]
    if cfg.workers != 0:
        ensure_ray(cfg.address)  # the given cluster, else local Ray, once the inputs were checked
    statuses = activations.compute(specs, cfg.workers, use_ray=cfg.workers != 0)
    failed = [s for s in statuses if s.status == "failed"]
    damage = damage_of(statuses, shards)
    warning = damage.enforce(cfg.max_bad_frames, shard_check.repair_hint(ds.url, ds.info().get("src")))
    meta = store.read_meta()
    channels = next((s.channels for s in statuses if s.status == "ok"), None)
    if channels is not None:
        meta = StoreMeta(layers, channels, cfg.pool, fp)
        store.write_meta(meta)
    if meta is None or not store.shards():
        raise InputError(f"no activations could be computed for {cfg.dataset}: {[s.error for s in failed]}")
    return store, meta, statuses, spec, warning


def _acts_for(cs: ConceptSet, store: ActivationStore, spec: activations.EncodeSpec) -> dict[str, np.ndarray]:
    if cs.images is not None:
        return activations.encode_images(spec, cs.images)[0]
    nets = ["trained", "random"] if spec.random_control else ["trained"]
    return {n: store.gather(n, cs.items) for n in nets}


def check_inputs(cfg: ProbeConfig) -> tuple[dict, list[str]]:
    """The run's encoder spec and the layers to probe; clear errors for a run without an encoder, an
    unknown layer or a DATASET that is not one (before any Ray work starts)."""
    run_url = cfg.run.rstrip("/")
    enc_spec = check_run(run_url)
    layers = cfg.layers or list(enc_spec["layers"])
    unknown = [layer for layer in layers if layer not in enc_spec["layers"]]
    if unknown:
        raise ConfigError(f"unknown layer(s) {unknown}: the encoder of {run_url} has {enc_spec['layers']}")
    Dataset(cfg.dataset)
    return enc_spec, layers


def absolute_paths(cfg: ProbeConfig) -> ProbeConfig:
    """`cfg` with local paths made absolute here, in the driver, before Ray's workers (elsewhere) see them."""
    paths = {k: getattr(cfg, k) for k in ("run", "dataset", "concepts", "exemplars") if getattr(cfg, k)}
    return cfg.model_copy(update={k: absolute(v) for k, v in paths.items()})


def build_frame_index(cfg: ProbeConfig, run_url: str, n_frames: int) -> dict:
    """After the exact flat file: the IVF index where `cfg.frame_index` asks for one (`auto`: from
    `cfg.ivf_from` frames, on a local run directory, whose lists the server maps). What probe.json records."""
    local = ivf_index.is_local(run_url)
    if cfg.frame_index == "ivf" and not local:
        raise ConfigError(
            f"--frame-index ivf needs a local run directory (its lists are mapped), not {run_url}"
        )
    if cfg.frame_index == "exact" or (cfg.frame_index == "auto" and (n_frames < cfg.ivf_from or not local)):
        if local:
            ivf_index.remove(run_url)  # one left by an earlier probe would be served instead
        return {"kind": "exact", "frames": n_frames}
    t0 = time.perf_counter()
    info = ivf_index.build(run_url, ivf_index.choose(n_frames, cfg.ivf_codes), cfg.seed)
    log.info("IVF frame index of %d frames built in %.0f s", n_frames, time.perf_counter() - t0)
    return {**info, "build_s": round(time.perf_counter() - t0, 1)}


def run(cfg: ProbeConfig) -> ProbeResult:
    t0 = time.perf_counter()
    cfg = absolute_paths(cfg)
    run_url = cfg.run.rstrip("/")
    enc_spec, layers = check_inputs(cfg)
    store, meta, statuses, spec, warning = _activations(cfg, layers)
    units = meta.units

    rows = unit_rows(store, units, cfg.top_frames, cfg.histogram_bins)
    write_parquet(f"{run_url}/{UNITS_TABLE}", rows, UNITS_SCHEMA)
    n_frames = frame_index.write(run_url, store.iter_chunks(EMBEDDINGS))
    index_kind = build_frame_index(cfg, run_url, n_frames)
    index_sha = file_sha256(f"{run_url}/{FRAME_INDEX}")  # recorded in probe.json; `verify` compares

    sets: list[ConceptSet] = []
    frames = concepts.dataset_labels(cfg.dataset, store, cfg.max_labelled_frames, cfg.seed)
    if frames.labels:
        sets.append(frames)
    if cfg.concepts:
        sets.append(concepts.folder_labels(cfg.concepts, enc_spec["input_size"]))
    if cfg.exemplars:
        ex = concepts.read_folder(cfg.exemplars, enc_spec["input_size"])[0]
        pool_set = (
            frames if frames.items else concepts.unlabelled_frames(store, cfg.max_labelled_frames, cfg.seed)
        )
        hits = {}
        for name, imgs in ex.items():
            emb = activations.encode_images(spec, [im for _, im in imgs])[0]["embeddings"]
            hits[name] = {k for near in frame_index.nearest(run_url, emb, cfg.exemplar_k) for k in near}
        sets.append(concepts.exemplar_labels(hits, pool_set))
    if not sets:
        raise InputError(
            f"no concepts to probe: {cfg.dataset} has no labelled frames (no label sidecars); "
            "pass --concepts DIR (one subfolder of images per concept) or exemplars"
        )

    results: list[ConceptResult] = []
    skipped: dict[str, str] = {}
    index_info: dict[str, dict] = {}
    for cs in sets:
        out = score_set(cs, _acts_for(cs, store, spec), units, cfg)
        results += out.results
        skipped.update(out.skipped)
        index_info[cs.source] = out.index

    skipped.update(concepts.unseen_concepts(cfg.dataset, frames))
    require_scored(results, skipped)
    t_maps = time.perf_counter()
    map_scores.localize(results, cfg.dataset, spec, units, cfg)
    t_maps = time.perf_counter() - t_maps
    top_of = {j: r["top_keys"] for j, r in enumerate(rows)}
    catalog = [row for r in results for row in catalog_rows(r, units, top_of, cfg)]
    write_parquet(f"{run_url}/{CATALOG_TABLE}", catalog, CATALOG_SCHEMA)
    random_units = sorted({r.random[0].unit for r in results if r.random})
    random_top = dict(
        zip(random_units, column_top(store, "random", random_units, cfg.top_frames), strict=True)
    )

    failed = [s.__dict__ for s in statuses if s.status == "failed" or s.damage]
    unreadable = [u for cs in sets for u in cs.unreadable]
    info = {
        "run": run_url,
        "dataset": cfg.dataset,
        "config": cfg.model_dump(),
        "pool": cfg.pool,
        "layers": meta.layers,
        "channels": meta.channels,
        "frames": n_frames,
        "frame_index": index_kind,
        "units": len(units),
        "detector_rule": cfg.rule.as_dict(),
        "index": index_info,
        "skipped_concepts": skipped,
        "failed_shards": failed,
        "bad_frames": sum(s.bad_frames for s in statuses),
        "frame_index_sha256": index_sha,
        "sha256": {rel: file_sha256(f"{run_url}/{rel}") for rel in (CATALOG_TABLE, UNITS_TABLE)},
        "unreadable_images": unreadable,
        "null_aucs": {f"{r.source}/{r.concept}": r.null_aucs for r in results},
    }
    write_bytes(f"{run_url}/{PROBE_JSON}", json.dumps(info, indent=1, default=float).encode())
    t_over = time.perf_counter()
    overlays, labels = map_scores.report_overlays(results, cfg.dataset, spec, units, rows, random_top, cfg)
    log.info("unit maps: localization %.1f s, report overlays %.1f s", t_maps, time.perf_counter() - t_over)
    html = report.render(info, results, catalog, rows, random_top, units, cfg, overlays, labels)
    write_bytes(f"{run_url}/{REPORT_HTML}", html.encode())
    table = [row for row in catalog if row["rank"] == 1]
    return ProbeResult(
        run=run_url,
        catalog=f"{run_url}/{CATALOG_TABLE}",
        report=f"{run_url}/{REPORT_HTML}",
        frames=n_frames,
        units=len(units),
        table=[{k: v for k, v in row.items() if k != "top_keys"} for row in table],
        skipped_concepts=skipped,
        failed_shards=failed,
        unreadable_images=unreadable,
        seconds=time.perf_counter() - t0,
        bad_frames=info["bad_frames"],
        damage=warning,
    )
