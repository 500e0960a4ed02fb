"""The probe's output contract: paths under RUN/ and the Parquet schemas of the catalogue and units tables.

The query stage (`unitscope query` / `serve`) reads these names; keep them stable.

- `catalog.parquet`: one row per (concept, label source, kept unit), rank 1 = best on the selection
  split; scores are held-out (evaluation split) unless prefixed `select_`; `random_*` is the random-
  weight control's best unit under the same protocol; `p_value` is from the permutation null;
  `linear_auc` is the concept's linear probe on all units (probe/linear.py), the same in each of its rows;
  `is_detector` applies the rule recorded in probe.json (probe/detector.py); `chance` is the majority
  rate of the evaluation split, what `accuracy` must beat; `aliases` are units with identical responses.
- `units.parquet`: one row per unit of the probed layers over all frames of the dataset (trained
  encoder): mean/std of the pooled response, its top frames and a histogram. `probe.json` records
  the pooling (`pool`), so the query stage pools an uploaded image's responses the same way.
"""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq

from unitscope.core import storage

PROBE_DIR = "probe"
CATALOG_TABLE = "probe/catalog.parquet"
UNITS_TABLE = "probe/units.parquet"
PROBE_JSON = "probe/probe.json"
REPORT_HTML = "probe/report.html"
FRAME_INDEX = "probe/frames.faiss"  # faiss.serialize_index of L2-normalised embeddings, IndexFlatIP
FRAME_INDEX_KEYS = "probe/frames.keys.parquet"  # column `key`: row i of the index is frame key[i]

LABEL_SOURCES = ("dataset", "folder", "exemplars")  # exemplars = pseudo-labels from k-NN expansion


def unit_name(layer: str, channel: int) -> str:
    return f"{layer}/{channel}"


CATALOG_SCHEMA = pa.schema(
    [
        ("unit", pa.string()),  # "layer/channel"
        ("layer", pa.string()),
        ("channel", pa.int32()),
        ("concept", pa.string()),
        ("label_source", pa.string()),  # one of LABEL_SOURCES
        ("rank", pa.int32()),  # 1 = best unit on the selection split
        ("auc", pa.float64()),  # held-out ROC AUC
        ("accuracy", pa.float64()),  # held-out accuracy of `activation >= threshold`
        ("chance", pa.float64()),  # held-out accuracy of always answering the majority class
        ("threshold", pa.float64()),  # chosen on the selection split (inf: never fires)
        ("select_auc", pa.float64()),
        ("n_select_pos", pa.int64()),
        ("n_select_neg", pa.int64()),
        ("n_eval_pos", pa.int64()),
        ("n_eval_neg", pa.int64()),
        ("random_auc", pa.float64()),  # held-out AUC of the random-weight control's best unit (NaN: none)
        ("random_unit", pa.string()),
        ("p_value", pa.float64()),  # permutation null (NaN: no permutations run)
        ("linear_auc", pa.float64()),  # held-out AUC of a linear probe on all units (per concept)
        ("random_linear_auc", pa.float64()),  # the same on the random-weight control's units
        ("is_detector", pa.bool_()),
        ("top_keys", pa.list_(pa.string())),  # top-activating frame keys of the unit
        ("aliases", pa.list_(pa.string())),  # units with identical responses, folded into this one
        # localization on held-out positives with boxes (probe/localization.py; NaN: no boxes)
        ("pointing", pa.float64()),  # share of frames whose map maximum is inside a concept box
        ("iou", pa.float64()),  # NetDissect IoU of the map's top-0.5% region with the boxes
        ("random_pointing", pa.float64()),  # the same for the random-weight control's best unit
        ("random_iou", pa.float64()),
        ("centre_pointing", pa.float64()),  # the same for a Gaussian at the frame centre
        ("centre_iou", pa.float64()),
        ("loc_frames", pa.int64()),  # held-out positive frames with boxes that were scored
    ]
)

UNITS_SCHEMA = pa.schema(
    [
        ("unit", pa.string()),
        ("layer", pa.string()),
        ("channel", pa.int32()),
        ("mean", pa.float64()),
        ("std", pa.float64()),
        ("top_keys", pa.list_(pa.string())),  # best first
        ("top_values", pa.list_(pa.float64())),
        ("hist_counts", pa.list_(pa.int64())),
        ("hist_edges", pa.list_(pa.float64())),  # len(hist_counts) + 1
    ]
)


def write_table(url: str, rows: list[dict], schema: pa.Schema) -> None:
    """Rows as a Parquet file at `url` (written whole, then renamed into place)."""
    from unitscope.probe.store import write_bytes

    table = pa.Table.from_pylist(rows, schema=schema)
    buf = io.BytesIO()
    pq.write_table(table, buf, **storage.PARQUET_CHECKSUMS)
    write_bytes(url, buf.getvalue())


def read_table(url: str) -> pa.Table:
    return storage.read_parquet(*storage.url_to_fs(url))
