"""The dissection page: one self-contained HTML file (images as data URIs, curves as inline SVG).

Top frames are `<figure class="frame" data-key=...>` elements in `<section id="top-frames">`: an overlay
of where in the frame the unit fires belongs inside that figure, over its image."""

from __future__ import annotations

import base64
import html

from unitscope.probe import svg_chart
from unitscope.probe.dissect.invariance import UNITS
from unitscope.probe.page_style import BASE_CSS

CSS = (
    BASE_CSS
    + """
.gal{display:grid;grid-template-columns:repeat(6,1fr);gap:6px} .frame{margin:0;position:relative}
.frame img{width:100%;aspect-ratio:1;object-fit:cover;border-radius:3px;display:block}
.frame figcaption{font-size:11px;color:#868e96}
.pair{display:flex;flex-wrap:wrap;gap:18px} .box{border:1px solid #dee2e6;border-radius:8px;padding:10px}
.box.control{background:#f8f9fa;border-style:dashed} .box h3{margin:0 0 6px;font-size:15px}
.stim{width:192px;image-rendering:pixelated} .tmpl{max-width:520px;image-rendering:pixelated}
"""
)


def _uri(data: bytes, kind: str) -> str:
    return f"data:{kind};base64,{base64.b64encode(data).decode()}"


def _fmt(v, digits: int = 3) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def _range(r) -> str:
    return "none (not above the line even untransformed)" if r is None else f"{r[0]:g} … {r[1]:g}"


def _scores(rows: list[dict]) -> str:
    if not rows:
        return "<p class='meta'>The probe scored this unit against no concept (it ranked in no concept's list).</p>"
    out = ["<table><tr><th>concept</th><th>labels</th><th>rank</th><th>held-out AUC</th><th>accuracy</th>"
           "<th>random weights (best unit)</th><th>p</th><th>linear probe</th><th>detector</th></tr>"]  # fmt: skip
    for r in rows:
        yes = "<span class=yes>yes</span>" if r.get("is_detector") else "<span class=no>no</span>"
        out.append(
            f"<tr><td>{html.escape(str(r['concept']))}</td><td>{html.escape(str(r.get('label_source')))}</td>"
            f"<td>{r.get('rank')}</td><td><b>{_fmt(r.get('auc'))}</b></td><td>{_fmt(r.get('accuracy'))}</td>"
            f"<td>{_fmt(r.get('random_auc'))} ({html.escape(str(r.get('random_unit') or '—'))})</td>"
            f"<td>{_fmt(r.get('p_value'), 4)}</td><td>{_fmt(r.get('linear_auc'))}</td><td>{yes}</td></tr>"
        )
    return "".join(out) + "</table>"


def _frames(frames: list[dict], jpegs: dict[str, bytes]) -> str:
    figs = [
        f"<figure class='frame' data-key='{html.escape(f['key'])}'><img alt='{html.escape(f['key'])}' "
        f"src='{_uri(jpegs[f['key']], 'image/jpeg')}'><figcaption>{f['activation']:.3g} · "
        f"{html.escape(', '.join(f['labels']) or 'no labels')}</figcaption></figure>"
        for f in frames
        if f["key"] in jpegs
    ]
    return f"<section id='top-frames' class='gal'>{''.join(figs)}</section>"


def _stimulus(part: dict, pngs: dict[str, bytes], title: str, control: bool) -> str:
    s = part["stimulus"]
    body = [f"<div class='box{' control' if control else ''}'><h3>{html.escape(title)}</h3>",
            f"<img class='stim' alt='optimal stimulus' src='{_uri(pngs[s['file']], 'image/png')}'>",
            f"<div class='meta'>response {s['response']:.3g} · {s['seconds']:.1f} s</div>"]  # fmt: skip
    if "templates" in part:
        t = part["templates"]
        body.append(
            f"<div class='meta'>de-whitened templates of {html.escape(', '.join(t['members']))}</div>"
            f"<img class='tmpl' alt='templates' src='{_uri(pngs[t['file']], 'image/png')}'>"
        )
    return "".join(body) + "</div>"


def _invariance(trained: dict, control: dict) -> str:
    out = [
        "<table><tr><th>transform</th><th>range (this unit)</th><th>range (control)</th></tr>",
        *(
            f"<tr><td>{name}</td><td>{_range(trained[name + '_range'])}</td>"
            f"<td>{_range(control[name + '_range'])}</td></tr>"
            for name in trained["curves"]
        ),
        "</table>",
    ]
    for name in trained["curves"]:
        out.append("<div class='pair'>")
        for part, who in ((trained, "this unit"), (control, "control")):
            out.append(
                _curve(part["curves"][name], part["reference"]["value"], f"{name} — {who}", UNITS[name])
            )
        out.append("</div>")
    return "".join(out)


def render(summary: dict, jpegs: dict[str, bytes], pngs: dict[str, bytes]) -> str:
    t, c = summary["trained"], summary["control"]
    unit = html.escape(summary["unit"])
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in summary.get("notes", []))
    return "\n".join(
        [
            f"<!doctype html><html><head><meta charset='utf-8'><title>unitscope — {unit}</title>",
            f"<style>{CSS}</style></head><body><h1>Unit {unit}</h1>",
            f"<p class='meta'>run <code>{html.escape(str(summary['run']))}</code> · {summary['pool']}-pooled "
            f"responses · {html.escape(summary['detector_rule'])} · data: <a href='dissection.json'>"
            "dissection.json</a></p>",
            f"<ul class='meta'>{notes}</ul>" if notes else "",
            "<h2>Scores per concept</h2>",
            _scores(summary["concepts"]),
            "<h2>Top frames</h2><p class='meta'>the frames of the probed corpus it responds to most</p>",
            _frames(summary["top_frames"], jpegs),
            "<h2>Optimal stimulus</h2><p class='meta'>the input of bounded norm that maximises the response "
            "(projected gradient ascent, robust to jitter, zoom and rotation), beside the random-weights "
            "control unit's</p><div class='pair'>",
            _stimulus(t, pngs, f"{t['unit']} (trained)", False),
            _stimulus(c, pngs, f"{c['unit']} (random weights)", True),
            "</div><h2>Invariance</h2>",
            f"<p class='meta'>mean response over its top {len(t['frames'])} frames as they are transformed "
            f"(band: 25th–75th percentile); dashed red: {html.escape(t['reference']['rule'])} "
            f"({t['reference']['value']:.3g}); the bar under a curve is the invariance range</p>",
            _invariance(t, c),
            "</body></html>",
        ]
    )


def _curve(curve: dict, reference: float, title: str, unit: str) -> str:
    """An invariance curve: mean response with its 25-75% band over the transform's steps."""
    return svg_chart.curve(curve["values"], curve["mean"], curve["lo"], curve["hi"], reference, title=title,
                           note=unit, span=curve.get("range"), log_x=curve["transform"] == "scale")  # fmt: skip
