"""The demo's last step: dissect each concept's best unit (`unitscope dissect`) and say where the pages are
and how invariant the best units and their random-weights controls are."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)
TRANSFORMS = ("translation_x", "translation_y", "scale", "rotation")


def dissect_best_units(run_dir: str, table: list[dict]) -> list[dict]:
    """One entry per concept of the probe's table (its rank-1 rows): the unit, the page written for it,
    and the invariance ranges of the unit and of its control."""
    from unitscope.probe.dissect.dissection import dissect, folder, write
    from unitscope.probe.query import RunQueries, parse_unit

    q = RunQueries(run_dir)
    done: dict[str, dict] = {}
    out = []
    for row in table:
        unit = row["unit"]
        if unit not in done:
            log.info("demo: dissecting %s ...", unit)
            d = dissect(run_dir, unit, queries=q)
            paths = write(d, folder(run_dir, *parse_unit(unit)))
            s = d.summary
            done[unit] = {
                "unit": unit,
                "page": paths["index.html"],
                "card": paths["card.png"],
                "control": s["control"]["unit"],
                "ranges": {t: s["trained"][f"{t}_range"] for t in TRANSFORMS},
                "control_ranges": {t: s["control"][f"{t}_range"] for t in TRANSFORMS},
                "seconds": s["seconds"],
            }
        out.append({"concept": row["concept"], **done[unit]})
    return out


def ranges_text(entry: dict) -> str:
    """`face: group1/17 shift x -0.2..0.3, ...; control group1/5 ...`, one line per unit."""

    def fmt(r: dict) -> str:
        return ", ".join(f"{t} {'none' if v is None else f'{v[0]:g}..{v[1]:g}'}" for t, v in r.items())

    return (
        f"{entry['concept']}: {entry['unit']} invariance ranges: {fmt(entry['ranges'])}\n"
        f"  random control {entry['control']}: {fmt(entry['control_ranges'])}\n  page: {entry['page']}"
    )
