"""docs/using-the-shards.md runs as written: each of its Python blocks is executed on a dataset ingested
from the real fixture clips (its `DATASET = ...` line pointed there), and the helpers it names say what
the shards hold."""

from __future__ import annotations

import contextlib
import io
import re
import tarfile
from pathlib import Path

import pytest
from unitscope.pipeline import dataset
from unitscope.pipeline.config import IngestConfig
from unitscope.pipeline.ingest import run

from tests.helpers import ROOT

DOC = ROOT / "docs" / "using-the-shards.md"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SIZE = 64


def blocks() -> dict[str, str]:
    """{section title: its Python block}."""
    text, out = DOC.read_text(), {}
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        title = section.splitlines()[0].strip()
        if m := re.search(r"```python\n(.*?)```", section, re.S):
            out[title] = m.group(1)
    return out


@pytest.fixture(scope="module")
def ingested(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("shards") / "ds"
    run(IngestConfig(src=str(FIXTURES / "videos"), out=str(out), fps=5, size=SIZE, shard_frames=40, workers=0,
                     progress=False, labels=str(FIXTURES / "labels.csv")))  # fmt: skip
    return out


def _execute(code: str, ds: Path) -> str:
    code, n = re.subn(r'^DATASET = ".*"$', f"DATASET = {str(ds)!r}", code, flags=re.M)
    assert n == 1, "each block starts from a DATASET line"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, str(DOC), "exec"), {"__name__": "__doc_block__"})
    return printed.getvalue()


def test_the_doc_has_the_three_recipes():
    assert set(blocks()) == {"webdataset and a PyTorch DataLoader", "Ray Data", "The manifest with pyarrow"}


@pytest.mark.slow
def test_helpers_name_the_committed_shards_and_their_members(ingested):
    urls = dataset.shard_urls(str(ingested))
    assert len(urls) > 1 and urls == sorted(urls)
    keys = dataset.sample_keys()
    with tarfile.open(urls[0]) as tar:
        names = tar.getnames()
    assert {n.rsplit(".", 1)[1] for n in names} == set(keys["sample"]) - {"__key__"}


@pytest.mark.slow
def test_webdataset_and_dataloader_recipe(ingested):
    out = _execute(blocks()["webdataset and a PyTorch DataLoader"], ingested)
    assert out.startswith(f"torch.Size([16, 3, {SIZE}, {SIZE}])")


@pytest.mark.slow
def test_ray_data_recipe(ingested, ray_local):
    out = _execute(blocks()["Ray Data"], ingested).splitlines()
    assert out[0].startswith(f"({SIZE}, {SIZE}, 3) ") and out[1] == f"torch.Size([16, {SIZE}, {SIZE}, 3])"


@pytest.mark.slow
def test_pyarrow_manifest_recipe(ingested):
    out = _execute(blocks()["The manifest with pyarrow"], ingested).splitlines()
    assert out[0] == "[{'status': 'ok', 'video_id_count': 5}]"
    labelled, total = map(int, re.fullmatch(r"(\d+) of (\d+) frames carry labels", out[1]).groups())
    assert 0 < labelled < total  # the bottle clip is tagged `none`
