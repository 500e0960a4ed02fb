"""Score one concept set: split by video, search each network's units, run the controls, make catalogue rows.

Per concept set and network one FAISS index is built over the selection split's unit profiles; every
concept of the set (and every shuffle of the permutation null) queries it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from unitscope.probe.catalog import unit_name
from unitscope.probe.concepts import ConceptSet
from unitscope.probe.config import ProbeConfig
from unitscope.probe.controls import p_value, permutation_null
from unitscope.probe.linear import linear_probe_auc
from unitscope.probe.search import UnitIndex
from unitscope.probe.selection import UnitScore, select_and_evaluate
from unitscope.probe.splits import split_mask

from unitscope.core.errors import InputError
from unitscope.core.heartbeat import Heartbeat

log = logging.getLogger(__name__)


@dataclass
class ConceptResult:
    concept: str
    source: str
    counts: dict[str, int]  # n_select_pos, n_select_neg, n_eval_pos, n_eval_neg
    trained: list[UnitScore]
    random: list[UnitScore]
    p_values: list[float]  # per trained unit, from the null of best units
    null_aucs: list[float]
    linear: dict[str, float] = field(default_factory=dict)  # network -> held-out AUC of the linear probe
    eval_labels: np.ndarray | None = None  # for the report: labels of the evaluation split
    eval_acts: dict[str, np.ndarray] = field(default_factory=dict)  # network -> (eval, shown units)
    eval_items: list[str] = field(default_factory=list)  # the evaluation split's items, row order
    localization: dict = field(default_factory=dict)  # probe/map_scores.py: unit id / "random" / "centre"


@dataclass
class SetResult:
    results: list[ConceptResult]
    skipped: dict[str, str]  # concept -> why it was not scored
    index: dict[str, dict]  # network -> the FAISS index choice


# How to get more examples, per label source.
MORE = {
    "dataset": "label the concept in more videos",
    "folder": "add images to the concept's subfolder",
    "exemplars": "add exemplar images or raise exemplar_k",
}
SPLIT = {
    "dataset": "the split is by video, so a concept seen in one video only is never scored",
    "folder": "the split is by image, within each subfolder",
    "exemplars": "the split is by video, so a concept found in one video only is never scored",
}


def too_few(concept: str, source: str, low: dict[str, int], min_examples: int) -> str:
    """The one message for a concept with too few examples, whatever its label source: the counts, the
    `--config` key that sets the minimum, and why a split can be empty."""
    return (
        f"too few examples of concept {concept!r} ({source} labels): "
        + ", ".join(f"{k}={v}" for k, v in low.items())
        + f", need min_examples={min_examples} positives and negatives in each of the selection and "
        f"evaluation halves ({SPLIT.get(source, SPLIT['dataset'])}); {MORE.get(source, MORE['dataset'])}, "
        f"or set a lower `min_examples: N` in a --config FILE"
    )


def require_scored(results: list, skipped: dict[str, str]) -> None:
    """InputError (exit 2) when no concept at all could be scored; some skipped is a result, reported."""
    if results:
        return
    reasons = list(skipped.values())
    more = f" (and {len(reasons) - 2} more concepts; see --help)" if len(reasons) > 2 else ""
    raise InputError("no concept could be scored: " + "; ".join(reasons[:2]) + more)


def score_set(
    cs: ConceptSet, acts: dict[str, np.ndarray], units: list[tuple[str, int]], cfg: ProbeConfig
) -> SetResult:
    """CatalogView results for every concept of `cs`; `acts[network]` is (items, units), row-aligned."""
    sel = split_mask(cs.groups, cfg.select_fraction, cfg.seed, cs.strata)
    results, skipped = [], {}
    usable = {}
    for concept, y in cs.labels.items():
        counts = {
            "n_select_pos": int(y[sel].sum()),
            "n_select_neg": int((~y[sel]).sum()),
            "n_eval_pos": int(y[~sel].sum()),
            "n_eval_neg": int((~y[~sel]).sum()),
        }
        low = {k: v for k, v in counts.items() if v < cfg.min_examples}
        if low:
            why = too_few(concept, cs.source, low, cfg.min_examples)
            log.warning(why)
            skipped[concept] = why
            continue
        usable[concept] = (y, counts)
    index_info: dict[str, dict] = {}
    if not usable:
        return SetResult([], skipped, index_info)
    indexes, held_out = {}, {}
    for network, a in acts.items():
        indexes[network] = UnitIndex(a[sel], exact_max_units=cfg.exact_max_units, seed=cfg.seed)
        index_info[network] = indexes[network].choice.as_dict()
        held_out[network] = a[~sel]
    eval_items = [cs.items[i] for i in np.flatnonzero(~sel)]
    beat = Heartbeat("probe")
    for i, (concept, (y, counts)) in enumerate(usable.items()):
        beat.tick(
            lambda i=i, concept=concept: (
                f"scoring concept {concept!r} ({i + 1} of {len(usable)}, {cs.source})"
            )
        )
        trained = select_and_evaluate(
            indexes["trained"], held_out["trained"], y[sel], y[~sel], cfg.candidates, cfg.keep
        )
        random = []
        if "random" in indexes:
            random = select_and_evaluate(
                indexes["random"], held_out["random"], y[sel], y[~sel], cfg.candidates, 1
            )
        if cfg.permutations:
            null = permutation_null(
                indexes["trained"], held_out["trained"], y[sel], y[~sel], trained[0].auc,
                cfg.candidates, cfg.permutations, cfg.seed, beat,
            )  # fmt: skip
            null_aucs = null.null_aucs
            pvals = [p_value(null_aucs, s.auc) for s in trained]
        else:
            null_aucs, pvals = np.array([]), [float("nan")] * len(trained)
        linear = {
            n: linear_probe_auc(a[sel], y[sel], np.asarray(cs.groups)[sel], held_out[n], y[~sel], cfg.seed)
            for n, a in acts.items()
        }
        shown = {"trained": [s.unit for s in trained[: cfg.report_units]], "random": [s.unit for s in random]}
        eval_acts = {n: np.asarray(held_out[n][:, cols], np.float32) for n, cols in shown.items() if cols}
        result = ConceptResult(concept, cs.source, counts, trained, random, pvals, null_aucs.tolist(), linear,
                               y[~sel], eval_acts, eval_items)  # fmt: skip
        results.append(result)
        best, ctrl = trained[0], (random[0].auc if random else float("nan"))
        log.info(
            "%s (%s): best %s held-out AUC %.3f, random %.3f, p %.4f, linear probe %.3f",
            concept, cs.source, unit_name(*units[best.unit]), best.auc, ctrl, pvals[0], linear["trained"],
        )  # fmt: skip
    return SetResult(results, skipped, index_info)


def catalog_rows(
    r: ConceptResult, units: list[tuple[str, int]], top_keys: dict[int, list[str]], cfg: ProbeConfig
) -> list[dict]:
    """Rows of CATALOG_SCHEMA for one concept result."""
    rnd = r.random[0] if r.random else None
    random_auc = rnd.auc if rnd else float("nan")
    n_eval = r.counts["n_eval_pos"] + r.counts["n_eval_neg"]
    chance = max(r.counts["n_eval_pos"], r.counts["n_eval_neg"]) / max(n_eval, 1)
    loc = r.localization
    nan = {"pointing": float("nan"), "iou": float("nan"), "frames": 0}
    rows = []
    for s, p in zip(r.trained, r.p_values, strict=True):
        layer, ch = units[s.unit]
        rows.append(
            {
                "unit": unit_name(layer, ch),
                "layer": layer,
                "channel": ch,
                "concept": r.concept,
                "label_source": r.source,
                "rank": s.rank,
                "auc": s.auc,
                "accuracy": s.accuracy,
                "chance": chance,
                "threshold": s.threshold,
                "select_auc": s.select_auc,
                **r.counts,
                "random_auc": random_auc,
                "random_unit": unit_name(*units[rnd.unit]) if rnd else None,
                "p_value": p,
                "linear_auc": r.linear.get("trained", float("nan")),
                "random_linear_auc": r.linear.get("random", float("nan")),
                "is_detector": cfg.rule.holds(s.auc, random_auc, p),
                "top_keys": top_keys.get(s.unit, [])[: cfg.top_frames],
                "aliases": [unit_name(*units[a]) for a in s.aliases],
                "pointing": loc.get(s.unit, nan)["pointing"],
                "iou": loc.get(s.unit, nan)["iou"],
                "random_pointing": loc.get("random", nan)["pointing"],
                "random_iou": loc.get("random", nan)["iou"],
                "centre_pointing": loc.get("centre", nan)["pointing"],
                "centre_iou": loc.get("centre", nan)["iou"],
                "loc_frames": loc.get("centre", nan)["frames"],
            }
        )
    return rows
