"""One unit dissected: its scores, top frames, optimal stimulus beside the random-weights control's, the
K-means closed form where it exists, and invariance curves for both; written as one self-contained HTML
page with its JSON and PNGs beside it (RUN/probe/dissect/LAYER-CHANNEL/ unless told otherwise).

Only the stored top frames and a bounded sample of stored activations are read, never the whole corpus.
Every file is written atomically and the page last, so an interrupted dissection leaves no half page."""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image
from unitscope.probe.dissect import figures, invariance
from unitscope.probe.dissect.evidence import Evidence, Sample, gather
from unitscope.probe.dissect.layout import JSON_FILE, PAGE
from unitscope.probe.dissect.layout import folder as folder  # where callers write a page
from unitscope.probe.dissect.page import render
from unitscope.probe.dissect.response import UnitFn, check_unit, responses, unit_function
from unitscope.probe.dissect.stimulus import StimulusConfig, optimal_stimulus
from unitscope.probe.dissect.template import unit_templates
from unitscope.probe.encoders import check_run
from unitscope.probe.query.catalog_view import parse_unit
from unitscope.probe.query.errors import NotFound
from unitscope.probe.query.service import RunQueries
from unitscope.train.model_io import load_encoder
from unitscope.train.models.patch import PatchDictionary

from unitscope.core import storage


@dataclass(frozen=True)
class DissectConfig:
    frames: int = 8  # top frames transformed for the invariance curves
    gallery: int = 12  # top frames shown
    sample: int = 4000  # stored frames read for the reference line and the control's best frames
    percentile: float = 95.0  # of the responses to frames without the concept: the reference line
    stimulus: StimulusConfig = field(default_factory=StimulusConfig)


@dataclass
class Dissection:
    unit: str
    summary: dict  # what dissection.json holds
    pngs: dict[str, bytes]  # file name -> PNG
    html: str


def dissect(run_url: str, unit: str, cfg: DissectConfig = DissectConfig(), queries: RunQueries | None = None,
            label: str | None = None) -> Dissection:  # fmt: skip
    """Everything known about `unit` (LAYER/CHANNEL) of a probed run; `label` names the run on the page
    (default: its folder's name, so a page the server hands out does not say where the run is kept)."""
    layer, channel = parse_unit(unit)
    spec = check_run(run_url)
    if layer not in spec["layers"]:
        raise NotFound(f"unknown layer {layer!r}: the encoder of {run_url} has {', '.join(spec['layers'])}")
    q = queries or RunQueries(run_url)
    ev = gather(q, layer, channel, cfg.sample)
    enc = load_encoder(q.run_url).eval()
    control = enc.randomized(ev.seed).eval()
    c_layer, c_channel = parse_unit(ev.control)
    check_unit(control, c_layer, c_channel)
    fn = unit_function(enc, layer, channel, ev.pool)
    c_fn = unit_function(control, c_layer, c_channel, ev.pool)
    side = enc.spec.input_size
    pngs: dict[str, bytes] = {}
    summary: dict = {"unit": ev.unit, "run": label or q.run_url.rsplit("/", 1)[-1], "pool": ev.pool, "concepts": ev.labels,
                     "detector_rule": q.catalog.rule.text(), "notes": ev.notes}  # fmt: skip
    jpegs = {k: q.frame_jpeg(k) for k, _ in ev.top[: max(cfg.gallery, cfg.frames)]}
    summary["top_frames"] = [{**_frame(q, k), "activation": v} for k, v in ev.top[: cfg.gallery]]
    t0 = time.perf_counter()
    for who, e, f, lay, ch, net in (("trained", ev.unit, fn, layer, channel, enc),
                                    ("control", ev.control, c_fn, c_layer, c_channel, control)):  # fmt: skip
        s = optimal_stimulus(f, side, cfg.stimulus)
        pngs[f"{who}-stimulus.png"] = figures.png(figures.to_uint8(s.image, enc.spec.mean, enc.spec.std), 192)
        part = {"unit": e, "stimulus": {"file": f"{who}-stimulus.png", "response": s.response,
                                        "seconds": round(s.seconds, 2)}}  # fmt: skip
        if isinstance(net, PatchDictionary):
            idx, t = unit_templates(net, lay, ch)
            pngs[f"{who}-templates.png"] = figures.png(figures.montage([figures.to_uint8(x) for x in t]))
            part["templates"] = {
                "file": f"{who}-templates.png",
                "members": [f"{net.spec.layers[0]}/{i}" for i in idx],
            }
        summary[who] = part
    summary["stimulus_config"] = cfg.stimulus.as_dict()
    frames = _decode(enc, [jpegs[k] for k, _ in ev.top[: cfg.frames]])
    summary["trained"].update(_curves(fn, frames, ev.sample, ev.concept, cfg))
    summary["trained"]["frames"] = [k for k, _ in ev.top[: cfg.frames]]
    summary.update(invariance_ranges(summary["trained"]))
    c_keys, c_sample = _control_frames(q, control, c_fn, ev, cfg)
    c_frames = _decode(enc, [q.frame_jpeg(k) for k in c_keys])
    summary["control"].update(_curves(c_fn, c_frames, c_sample, ev.concept, cfg))
    summary["control"]["frames"] = c_keys
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    pngs["card.png"] = figures.png(_card(ev, jpegs, pngs))
    return Dissection(ev.unit, summary, pngs, render(summary, jpegs, pngs))


def write(d: Dissection, out_url: str) -> dict[str, str]:
    """The PNGs and JSON, then the page: each atomically, the page last. Returns name -> URL."""
    out = out_url.rstrip("/")
    paths = {}
    for name, data in d.pngs.items():
        paths[name] = f"{out}/{name}"
        storage.write_bytes(paths[name], data)
    paths[JSON_FILE] = f"{out}/{JSON_FILE}"
    storage.write_bytes(paths[JSON_FILE], json.dumps(d.summary, indent=1).encode())
    paths[PAGE] = f"{out}/{PAGE}"
    storage.write_bytes(paths[PAGE], d.html.encode())
    return paths


def _frame(q: RunQueries, key: str) -> dict:
    info = q.frames.info(key)
    return {"key": key, "video": info.video, "pts": info.pts, "labels": info.labels}


def _decode(enc, blobs: list[bytes]) -> torch.Tensor:
    return enc.preprocess([Image.open(io.BytesIO(b)).convert("RGB") for b in blobs])


def _curves(
    fn: UnitFn, frames: torch.Tensor, sample: Sample, concept: str | None, cfg: DissectConfig
) -> dict:
    ref = sample.reference(cfg.percentile)
    if ref is None:  # no negatives sampled: the line is over every sampled frame
        ref = float(np.percentile(sample.values, cfg.percentile))
    result = invariance.curves(fn, frames, ref)
    what = f"frames without {concept!r}" if concept else "frames"
    return {
        "reference": {
            "value": ref,
            "rule": f"{cfg.percentile:g}th percentile of the response to {what}",
            "frames": int(sample.negative.sum()),
        },
        **invariance.ranges(result),
        "curves": {k: c.as_dict() for k, c in result.items()},
    }


def _control_frames(
    q: RunQueries, control, c_fn, ev: Evidence, cfg: DissectConfig
) -> tuple[list[str], Sample]:
    """The control unit's best sampled frames and its sample: from the stored control activations, or,
    when the probe stored none, from running the control on up to 64 sampled frames."""
    if ev.control_sample is not None:
        return ev.control_sample.top(cfg.frames), ev.control_sample
    keys = ev.sample.keys[:64]
    values = responses(c_fn, _decode(control, [q.frame_jpeg(k) for k in keys])).numpy().astype(np.float64)
    s = Sample(keys, values, ev.sample.negative[: len(keys)].copy())
    ev.notes.append("the probe stored no control activations: its line and frames come from 64 frames")
    return s.top(cfg.frames), s


def _card(ev: Evidence, jpegs: dict[str, bytes], pngs: dict[str, bytes]) -> np.ndarray:
    """One picture of the unit: four top frames, its optimum and the control's optimum."""
    tiles = [
        np.asarray(Image.open(io.BytesIO(jpegs[k])).convert("RGB").resize((128, 128))) for k, _ in ev.top[:4]
    ]
    for name in ("trained-stimulus.png", "control-stimulus.png"):
        tiles.append(np.asarray(Image.open(io.BytesIO(pngs[name])).convert("RGB").resize((128, 128))))
    return figures.montage(tiles, tile=128, gap=6)


def invariance_ranges(part: dict) -> dict:
    """The `*_range` entries of a unit's section of the JSON."""
    return {k: v for k, v in part.items() if k.endswith("_range")}
