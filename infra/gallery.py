"""HTML pages of the query server: an index of concepts with their best units, and one page per unit
with its top frames and activation histogram. Plain server-rendered HTML, no scripts."""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote

from unitscope.probe import svg_chart
from unitscope.probe.page_style import BASE_CSS

EAGER_FRAMES = 12  # the first screen of top frames is part of the page's load; the rest load as scrolled to
_STYLE = (
    BASE_CSS
    + """
.frames{display:flex;flex-wrap:wrap;gap:.5rem}.frames figure{margin:0;font-size:.75rem}
.frames img{width:128px;height:128px;object-fit:cover;display:block}.det{color:#070;font-weight:bold}
"""
)


def _page(title: str, body: str, rule: str = "") -> str:
    """A whole page; `rule` (the detector definition the probe applied) is stated under pages that say
    "detector"."""
    foot = f"<p><small>{escape(rule)}</small></p>" if rule else ""
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<link rel="icon" href="data:,">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>{body}{foot}</body></html>"
    )


def unit_href(unit: str) -> str:
    layer, _, channel = unit.rpartition("/")
    return f"/gallery/units/{quote(layer, safe='')}/{quote(channel, safe='')}"


def concept_href(name: str) -> str:
    return f"/gallery/concepts/{quote(name, safe='')}"


def _concept_link(name: str) -> str:
    return f'<a href="{concept_href(name)}">{escape(name)}</a>'


def frame_src(key: str) -> str:
    return f"/frames/{quote(key, safe='')}.jpg"


def overlay_src(unit: str, key: str) -> str:
    """The unit's map over frame `key` (infra/overlay_routes.py)."""
    layer, _, channel = unit.rpartition("/")
    return f"/units/{quote(layer, safe='')}/{channel}/overlays/{quote(key, safe='')}.png"


def _num(v: Any) -> str:
    return "–" if v is None else f"{v:.3f}" if isinstance(v, float) else escape(str(v))


def index_page(run_url: str, concepts: list[dict[str, Any]], rule: str = "") -> str:
    """Concepts, each with its best unit (held-out AUC beside the random-weights control)."""
    rows = []
    for c in concepts:
        best = c["best"]
        thumb = (best.get("top_keys") or [None])[0]
        img = f'<img src="{frame_src(thumb)}" width=64 height=64 alt="">' if thumb else ""
        rows.append(
            f"<tr><td>{_concept_link(c['concept'])}</td><td>{escape(str(c.get('label_source') or ''))}</td>"
            f"<td>{c['detectors']} / {c['units']}</td>"
            f'<td><a href="{unit_href(best["unit"])}">{escape(best["unit"])}</a></td>'
            f"<td>{_num(best.get('auc'))}</td><td>{_num(best.get('random_auc'))}</td><td>{img}</td></tr>"
        )
    body = (
        f"<h1>Concept units</h1><p>run <code>{escape(run_url)}</code></p>"
        "<table><tr><th>concept</th><th>labels</th><th>detectors / units</th><th>best unit</th>"
        "<th>held-out AUC</th><th>random-weights AUC</th><th>top frame</th></tr>" + "".join(rows) + "</table>"
    )
    return _page("unitscope concepts", body, rule)


def concept_page(name: str, units: list[dict[str, Any]], rule: str = "") -> str:
    """One concept: its units in the catalogue's rank order, each linked to its page."""
    rows = "".join(
        f'<tr><td>{_num(u.get("rank"))}</td><td><a href="{unit_href(u["unit"])}">{escape(u["unit"])}</a></td>'
        f"<td>{_num(u.get('auc'))}</td><td>{_num(u.get('random_auc'))}</td><td>{_num(u.get('accuracy'))}</td>"
        f"<td>{_num(u.get('p_value'))}</td>"
        f"<td>{'<span class=det>detector</span>' if u.get('is_detector') else ''}</td></tr>"
        for u in units
    )
    body = (
        f'<p><a href="/">all concepts</a></p><h1>Concept {escape(name)}</h1>'
        "<table><tr><th>rank</th><th>unit</th><th>held-out AUC</th><th>random-weights AUC</th>"
        f"<th>accuracy</th><th>p</th><th></th></tr>{rows}</table>"
    )
    return _page(f"concept {name}", body, rule)


def _histogram_svg(counts: list[int], edges: list[float]) -> str:
    bars = [svg_chart.Bars(counts, "#4a7")]
    chart = svg_chart.histogram(bars, edges, width=480, height=136, label="activation histogram")
    return chart or "<p>no histogram</p>"


def unit_page(unit: dict[str, Any], rule: str = "") -> str:
    """One unit: its concept labels, activation histogram over the dataset and top-activating frames."""
    labels = "".join(
        f"<tr><td>{_concept_link(r['concept'])}</td><td>{_num(r.get('auc'))}</td><td>{_num(r.get('random_auc'))}</td>"
        f"<td>{_num(r.get('accuracy'))}</td><td>{_num(r.get('rank'))}</td>"
        f"<td>{'<span class=det>detector</span>' if r.get('is_detector') else ''}</td></tr>"
        for r in unit["concepts"]
    )
    frames = "".join(
        f'<figure><a href="{frame_src(f["key"])}"><img loading="{"eager" if i < EAGER_FRAMES else "lazy"}" '
        f'alt="{escape(f["key"])}" src="{escape(overlay_src(unit["unit"], f["key"]))}"></a>'
        f"<figcaption>{_num(f.get('activation'))} · {escape(str(f.get('video') or ''))} @ "
        f"{_num(f.get('pts'))}s · labels: {escape(', '.join(f.get('labels') or []) or 'none')}</figcaption>"
        "</figure>"
        for i, f in enumerate(unit["frames"])
    )
    hist = unit["histogram"]
    body = (
        f'<p><a href="/">all concepts</a></p><h1>Unit {escape(unit["unit"])}</h1>'
        f"<p>mean {_num(unit['mean'])}, std {_num(unit['std'])}</p>"
        "<h2>Concepts</h2><table><tr><th>concept</th><th>held-out AUC</th><th>random-weights AUC</th>"
        f"<th>accuracy</th><th>rank</th><th></th></tr>{labels}</table>"
        f"<h2>Activation histogram</h2>{_histogram_svg(hist['counts'], hist['edges'])}"
        "<h2>Top frames</h2><p>each with the unit's map overlaid and its labelled boxes drawn; corner green "
        "when the frame carries the unit's best concept, red when not</p>"
        f'<div class="frames">{frames}</div>'
    )
    return _page(f"unit {unit['unit']}", body, rule)
