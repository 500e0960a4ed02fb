"""RUN/probe/report.html: one self-contained page (images as data URIs, charts as inline SVG).

Per concept: the best units of the trained encoder beside the random-weight control's best unit, each
with its held-out response histogram (frames with the concept vs without, the selection threshold
marked) and a gallery of its top-activating frames, each overlaid with the unit's map and the frame's
boxes, its corner green when it carries the concept's label and red when not; the permutation null with
the observed AUC.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable

import numpy as np
from unitscope.pipeline.dataset import Dataset
from unitscope.probe import svg_chart
from unitscope.probe.catalog import unit_name
from unitscope.probe.config import ProbeConfig
from unitscope.probe.dissect.layout import page_link
from unitscope.probe.evaluation import ConceptResult
from unitscope.probe.page_style import BASE_CSS

POS, NEG, ACCENT = "#d9480f", "#868e96", "#1c7ed6"

CSS = (
    BASE_CSS
    + """
.cards{display:flex;flex-wrap:wrap;gap:14px} .card{border:1px solid #dee2e6;border-radius:8px;padding:10px;width:360px}
.card.control{background:#f8f9fa;border-style:dashed} .card h3{margin:0 0 4px;font-size:15px}
.cap{color:#868e96;font-size:12px;margin-top:4px}
.gal{display:grid;grid-template-columns:repeat(6,1fr);gap:3px;margin-top:6px}
.gal img{width:100%;aspect-ratio:1;object-fit:cover;border-radius:3px}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}
"""
)


def frame_jpegs(dataset_url: str, keys: Iterable[str]) -> dict[str, bytes]:
    """JPEG bytes of frames, one ranged read each (found by one pass over the manifest)."""
    return Dataset(dataset_url).read_jpegs(keys)


def histogram_svg(pos: np.ndarray, neg: np.ndarray, threshold: float) -> str:
    """Overlaid density histograms of responses with (orange) and without (grey) the concept."""
    both = np.concatenate([pos, neg])
    if not both.size:
        return ""
    lo, hi = float(both.min()), float(both.max())
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, 31)
    hp = np.histogram(pos, edges)[0] / max(1, len(pos))
    hn = np.histogram(neg, edges)[0] / max(1, len(neg))
    bars = [svg_chart.Bars(hn, NEG, 0.6), svg_chart.Bars(hp, POS, 0.6)]
    mark = svg_chart.Mark(threshold, dashed=True)
    return svg_chart.histogram(bars, edges, marks=[mark], label="responses with and without the concept")


def null_svg(null: list[float], observed: float) -> str:
    """The permutation null's held-out AUCs (grey) and the observed one (blue line)."""
    if not null:
        return ""
    edges = np.linspace(0.0, 1.0, 51)
    counts = np.histogram(np.clip(null, 0, 1), edges)[0]
    mark = svg_chart.Mark(min(max(observed, 0.0), 1.0), ACCENT, width=2)
    return svg_chart.histogram([svg_chart.Bars(counts, NEG)], edges, height=70, marks=[mark],
                               ticks=(0, 0.5, 1), label="permutation null of the held-out AUC")  # fmt: skip


def _fmt(v: float) -> str:
    return "—" if v is None or not np.isfinite(v) else f"{v:.3f}"


def _gallery(keys: list[str], jpegs: dict[str, bytes], concept: str = "", labels=None) -> str:
    """Top frames (overlays where `jpegs` holds them), each titled with whether it carries `concept`."""
    labels = labels or {}

    def title(k: str) -> str:
        if k not in labels:
            return k
        return f"{k} · {'carries' if concept in labels[k] else 'no'} {concept} label"

    imgs = [
        f'<img title="{html.escape(title(k))}" data-label="{int(concept in labels.get(k, []))}" '
        f'src="data:image/jpeg;base64,{base64.b64encode(jpegs[k]).decode()}">'
        for k in keys
        if k in jpegs
    ]
    cap = "top-activating frames, the unit's map overlaid (corner: green = carries the label, red = not)"
    return f'<div class="cap">{cap}</div><div class="gal">{"".join(imgs)}</div>'


def _card(title: str, score, pos_neg, keys, jpegs, control: bool, extra: str = "", concept="", labels=None):
    pos, neg = pos_neg
    return (
        f'<div class="card{" control" if control else ""}"><h3>{html.escape(title)}</h3>'
        f"held-out AUC <b>{_fmt(score.auc)}</b> · accuracy {_fmt(score.accuracy)} · "
        f"selection AUC {_fmt(score.select_auc)}{extra}"
        f"{histogram_svg(pos, neg, score.threshold)}{_gallery(keys, jpegs, concept, labels)}</div>"
    )


def _where(loc: dict, key) -> str:
    s = loc.get(key)
    return f" · pointing {_fmt(s['pointing'])} · IoU {_fmt(s['iou'])}" if s else ""


def _pics(jpegs: dict[str, bytes], overlays: dict, network: str, unit: int, keys: list[str]) -> dict:
    return {k: overlays.get((network, unit, k), jpegs.get(k)) for k in keys if k in jpegs}


def render(info: dict, results: list[ConceptResult], catalog: list[dict], unit_rows: list[dict],
           random_top: dict[int, list[str]], units: list[tuple[str, int]], cfg: ProbeConfig,
           overlays: dict | None = None, labels: dict[str, list[str]] | None = None) -> str:  # fmt: skip
    shown_keys = {
        k for r in results for s in r.trained[: cfg.report_units] for k in unit_rows[s.unit]["top_keys"]
    }
    shown_keys |= {k for ks in random_top.values() for k in ks}
    jpegs = frame_jpegs(info["dataset"], shown_keys)
    overlays = overlays or {}
    best = {(row["label_source"], row["concept"]): row for row in catalog if row["rank"] == 1}
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>unitscope probe — {html.escape(info['run'])}</title>",
        f"<style>{CSS}</style></head><body><h1>Which units became concept detectors?</h1>",
        f"<p class='meta'>run <code>{html.escape(info['run'])}</code> · dataset <code>{html.escape(info['dataset'])}</code>"
        f" · {info['frames']} frames · {info['units']} units in {', '.join(info['layers'])} ({info['pool']}-pooled)"
        f"<br>Units are chosen on one half of the labelled videos and scored on the other; "
        f"{html.escape(cfg.rule.text())}.</p>",
        "<table><tr><th>concept</th><th>labels</th><th>best unit</th><th>held-out AUC</th><th>accuracy</th>"
        "<th>chance</th><th>random weights</th><th>p</th><th>linear probe, all units (random weights)</th>"
        "<th>detector</th><th>pointing (centre prior / random)</th><th>IoU (centre prior / random)</th></tr>",
    ]
    for (source, concept), row in sorted(best.items()):
        parts.append(
            f"<tr><td><a href='#{source}-{html.escape(concept)}'>{html.escape(concept)}</a></td><td>{source}</td>"
            f"<td><a href='{page_link(row['layer'], row['channel'])}' title='dissection: `unitscope dissect`'>"
            f"{row['unit']}</a></td><td><b>{_fmt(row['auc'])}</b></td><td>{_fmt(row['accuracy'])}</td>"
            f"<td>{_fmt(row['random_auc'])} ({row['random_unit'] or '—'})</td><td>{row['p_value']:.4f}</td>"
            f"<td>{_fmt(row['linear_auc'])} ({_fmt(row['random_linear_auc'])})</td>"
            f"<td>{'<span class=yes>yes</span>' if row['is_detector'] else '<span class=no>no</span>'}</td>"
            f"<td>{_fmt(row['pointing'])} ({_fmt(row['centre_pointing'])} / {_fmt(row['random_pointing'])})</td>"
            f"<td>{_fmt(row['iou'])} ({_fmt(row['centre_iou'])} / {_fmt(row['random_iou'])})</td></tr>"
        )
    parts.append("</table>")
    if info["skipped_concepts"]:
        items = "".join(f"<li>{html.escape(v)}</li>" for v in info["skipped_concepts"].values())
        parts.append(f"<p>Not scored:</p><ul>{items}</ul>")
    for r in results:
        y = r.eval_labels
        c = r.counts
        parts.append(
            f"<h2 id='{r.source}-{html.escape(r.concept)}'>{html.escape(r.concept)} "
            f"<small class='meta'>({r.source} labels{'; pseudo-labels' if r.source == 'exemplars' else ''})</small></h2>"
            f"<p class='meta'>selection: {c['n_select_pos']} with / {c['n_select_neg']} without · evaluation: "
            f"{c['n_eval_pos']} with / {c['n_eval_neg']} without"
            f"<span class='legend'><span style='background:{POS}'></span>with concept"
            f"<span style='background:{NEG}'></span>without · dashed: threshold</span></p><div class='cards'>"
        )
        for i, s in enumerate(r.trained[: cfg.report_units]):
            a = r.eval_acts["trained"][:, i]
            name = unit_name(*units[s.unit])
            extra = f" · p {r.p_values[i]:.4f}{_where(r.localization, s.unit)}"
            if s.aliases:
                extra += f" · same responses as {', '.join(unit_name(*units[a]) for a in s.aliases)}"
            keys = unit_rows[s.unit]["top_keys"]
            pics = _pics(jpegs, overlays, "trained", s.unit, keys)
            parts.append(
                _card(f"#{s.rank} {name}", s, (a[y], a[~y]), keys, pics, False, extra, r.concept, labels)
            )
        if r.random:
            s = r.random[0]
            a = r.eval_acts["random"][:, 0]
            title = f"random weights: best unit {unit_name(*units[s.unit])}"
            keys = random_top.get(s.unit, [])
            pics = _pics(jpegs, overlays, "random", s.unit, keys)
            extra = _where(r.localization, "random")
            parts.append(_card(title, s, (a[y], a[~y]), keys, pics, True, extra, r.concept, labels))
        if r.null_aucs:
            parts.append(
                f"<div class='card control'><h3>permutation null ({len(r.null_aucs)} shuffles)</h3>"
                f"held-out AUC of the unit chosen with shuffled labels; blue: the real best unit "
                f"({_fmt(r.trained[0].auc)}, p = {r.p_values[0]:.4f}){null_svg(r.null_aucs, r.trained[0].auc)}</div>"
            )
        parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts)
