"""docs/outputs.md against what the code writes: every Parquet table's columns and types against the
schemas, the sample and dataset.json fields, and the dataset and RUN trees against a real ingest of the
fixture clips and a real (tiny) train + probe."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from unitscope.pipeline import schema
from unitscope.pipeline.config import IngestConfig
from unitscope.pipeline.ingest import run as ingest
from unitscope.probe import catalog, frame_index

from tests.helpers import ROOT

DOC = (ROOT / "docs" / "outputs.md").read_text()
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TABLES = {
    schema.VIDEOS_TABLE: schema.VIDEOS_SCHEMA,
    schema.FRAMES_TABLE: schema.FRAMES_SCHEMA,
    schema.SHARDS_TABLE: schema.SHARDS_SCHEMA,
    catalog.CATALOG_TABLE: catalog.CATALOG_SCHEMA,
    catalog.UNITS_TABLE: catalog.UNITS_SCHEMA,
    catalog.FRAME_INDEX_KEYS: frame_index.KEYS_SCHEMA,
}


def section_rows(title: str) -> list[list[str]]:
    """The table rows (cells, backticks stripped) under the heading `### title`."""
    body = DOC.split(f"### {title}\n", 1)[1].split("\n#", 1)[0]
    rows = [
        [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        for line in body.splitlines()
        if line.startswith("|")
    ]
    return rows[2:]  # past the header and its rule


def tree(title: str) -> set[str]:
    """The paths of the tree block under `## title...`, relative to its root."""
    block = re.search(rf"## {re.escape(title)}.*?```\n(.*?)```", DOC, re.S).group(1)
    paths, stack = set(), []
    for line in block.splitlines()[1:]:
        m = re.match(r"^((?:│   |    )*)(?:├── |└── )(\S+)", line)
        if not m:
            continue
        depth = len(m.group(1)) // 4
        stack[depth:] = [m.group(2).rstrip("/")]
        paths.add("/".join(stack))
    return paths


def written(root: Path, collapse: tuple[str, ...] = ()) -> set[str]:
    """Paths under `root` with numbers as in the doc's examples; folders in `collapse` kept whole."""
    out = set()
    for p in root.rglob("*"):
        rel = p.relative_to(root).as_posix()
        if any(rel.startswith(c + "/") for c in collapse):
            continue
        rel = re.sub(r"events\.out\.tfevents\..*", "", rel).rstrip("/")
        rel = re.sub(r"step-\d{8}", "step-00000400", rel)
        out.add(re.sub(r"(?<!\d)\d{6}(?!\d)", "000000", rel))
    return out


@pytest.mark.parametrize("path", sorted(TABLES))
def test_table_columns_and_types_are_the_schemas(path):
    rows = section_rows(f"`{path}`")
    assert [(r[0], r[1]) for r in rows] == [(f.name, str(f.type)) for f in TABLES[path]]
    assert all(r[2] for r in rows), "every column says what it means"


def test_sample_json_fields_are_what_ingest_writes():
    assert tuple(r[0] for r in section_rows("Shard samples")) == schema.FRAME_JSON_FIELDS


@pytest.mark.slow
def test_dataset_tree_and_dataset_json_match_a_real_ingest(tmp_path):
    out = tmp_path / "ds"
    ingest(
        IngestConfig(src=str(FIXTURES / "videos"), out=str(out), fps=1, size=32, workers=0, progress=False)
    )
    assert written(out) == tree("A dataset")
    info = json.loads((out / schema.DATASET_JSON).read_text())
    assert [r[0] for r in section_rows("`dataset.json`")] == list(info)
    counts = dict((r[0], r[2]) for r in section_rows("`dataset.json`"))["counts"]
    assert set(info["counts"]) <= set(re.findall(r"\w+", counts))


@pytest.mark.slow
def test_run_tree_metrics_and_probe_json_match_a_real_run(tmp_path):
    from unitscope.probe.config import ProbeConfig
    from unitscope.probe.probe import run as probe
    from unitscope.train.config import TrainConfig
    from unitscope.train.train import run as train

    from tests.probe.tiny_dataset import write_dataset

    ds, run = write_dataset(tmp_path / "ds"), tmp_path / "run"
    train(
        TrainConfig(dataset=str(ds), run=str(run), width=8, input_size=32, batch_size=8, steps=2, workers=0)
    )
    probe(ProbeConfig(run=str(run), dataset=str(ds), workers=0, permutations=9, min_examples=2))
    assert written(run, collapse=("probe/activations",)) == tree("A RUN")
    metrics = DOC.split("### `metrics.jsonl`", 1)[1].split("\n#", 1)[0]
    fields = json.loads((run / "metrics.jsonl").read_text().splitlines()[0])
    assert all(f"`{k}`" in metrics for k in fields)
    info = json.loads((run / catalog.PROBE_JSON).read_text())
    assert [r[0] for r in section_rows("`probe/probe.json`")] == list(info)
