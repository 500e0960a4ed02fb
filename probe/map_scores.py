"""The probe's localization pass: for each concept scored on dataset frames, where its ranked units and
the random control's best unit fire on held-out frames, against the concept's boxes.

Per concept a seeded sample of the evaluation split is mapped: up to `cfg.localize_frames` positives
(the frames scored) and as many negatives. The top-0.5% threshold of each unit is the quantile over this
sample's map pixels, a stand-in for NetDissect's quantile over the whole corpus (maps of every frame are
what this pass must not compute). Frames whose objects carry no box of the concept are not scored.
"""

from __future__ import annotations

import logging

import numpy as np
from unitscope.pipeline.dataset import Dataset
from unitscope.probe import localization, overlay
from unitscope.probe.boxes import read_frames
from unitscope.probe.encoders import default_device, open_encoder
from unitscope.probe.evaluation import ConceptResult
from unitscope.probe.maps import unit_maps

log = logging.getLogger(__name__)


def sample(r: ConceptResult, n: int, seed: int) -> tuple[list[str], np.ndarray]:
    """Keys of up to `n` held-out positives and `n` negatives of `r`, and which are positive."""
    rng = np.random.default_rng([seed, len(r.eval_items)])
    y = np.asarray(r.eval_labels, bool)
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    pos = rng.choice(pos, min(n, len(pos)), replace=False) if len(pos) else pos
    neg = rng.choice(neg, min(n, len(neg)), replace=False) if len(neg) else neg
    rows = np.concatenate([np.sort(pos), np.sort(neg)])
    return [r.eval_items[i] for i in rows], np.arange(len(rows)) < len(pos)


def localize(results: list[ConceptResult], dataset_url: str, spec, units, cfg) -> None:
    """Fill `r.localization` of each dataset-labelled result: {unit id | "random" | "centre": scores}."""
    todo = [r for r in results if r.source == "dataset" and r.eval_items and cfg.localize_frames]
    if not todo:
        return
    ds = Dataset(dataset_url)
    device = default_device(spec.device)
    nets = {"trained": open_encoder(spec.run, "trained", spec.seed, device, spec.token)}
    if spec.random_control:
        nets["random"] = open_encoder(spec.run, "random", spec.seed, device, spec.token)
    for r in todo:
        keys, positive = sample(r, cfg.localize_frames, cfg.seed)
        frames = read_frames(ds, keys)
        boxes = [frames[k].boxes(r.concept) for k in keys]
        if not any(b for b, p in zip(boxes, positive, strict=True) if p):
            continue  # labels without boxes: nothing to score against
        images = [frames[k].image for k in keys]
        shown = [s.unit for s in r.trained]
        maps = unit_maps(nets["trained"], images, [units[u] for u in shown])
        loc: dict = {u: localization.scores(maps[:, i], boxes, positive) for i, u in enumerate(shown)}
        if r.random and "random" in nets:
            rmaps = unit_maps(nets["random"], images, [units[r.random[0].unit]])
            loc["random"] = localization.scores(rmaps[:, 0], boxes, positive)
        h, w = maps.shape[2:]
        loc["centre"] = localization.centre_scores(len(keys), h, w, boxes, positive)
        r.localization = loc
        best = loc[shown[0]]
        log.info(
            "%s: pointing %.2f IoU %.3f (centre prior %.2f / %.3f, random %s) on %d frames",
            r.concept, best["pointing"], best["iou"], loc["centre"]["pointing"], loc["centre"]["iou"],
            f"{loc['random']['pointing']:.2f} / {loc['random']['iou']:.3f}" if "random" in loc else "—",
            best["frames"],
        )  # fmt: skip


def report_overlays(results: list[ConceptResult], dataset_url: str, spec, units, unit_rows, random_top,
                    cfg) -> tuple[dict[tuple[str, int, str], bytes], dict[str, list[str]]]:  # fmt: skip
    """JPEG overlays of the top frames the report shows, {(network, unit id, frame key): bytes}, each
    unit's map drawn with the boxes of the concept it is shown for (the first concept that shows it),
    and the labels of those frames."""
    want: dict[tuple[str, int], tuple[str, list[str]]] = {}
    for r in results:
        for s in r.trained[: cfg.report_units]:
            want.setdefault(("trained", s.unit), (r.concept, unit_rows[s.unit]["top_keys"]))
        if r.random:
            want.setdefault(("random", r.random[0].unit), (r.concept, random_top.get(r.random[0].unit, [])))
    if not want:
        return {}, {}
    frames = read_frames(Dataset(dataset_url), sorted({k for _, keys in want.values() for k in keys}))
    device = default_device(spec.device)
    out = {}
    for (network, u), (concept, keys) in want.items():
        enc = open_encoder(spec.run, network, spec.seed, device, spec.token)
        images = overlay.unit_overlays(enc, [frames[k] for k in keys], units[u], concept, "JPEG")
        out.update({(network, u, k): img for k, img in zip(keys, images, strict=True)})
    return out, {k: f.labels for k, f in frames.items()}
