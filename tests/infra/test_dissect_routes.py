"""`unitscope serve` hands out the dissection `unitscope dissect` wrote, over a real socket: the same page
and JSON; a unit not dissected yet, or not in the run, is a 404 that says what to do."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from unitscope.infra.server import create_app
from unitscope.probe.config import ProbeConfig
from unitscope.probe.dissect.dissection import DissectConfig, dissect, folder, write
from unitscope.probe.dissect.stimulus import StimulusConfig
from unitscope.probe.probe import run as probe

from tests.infra.live_server import live_server
from tests.probe.tiny_dataset import write_dataset, write_run

pytestmark = pytest.mark.slow  # probes a run and starts a server


def test_served_dissection_is_the_written_one(tmp_path):
    ds = write_dataset(tmp_path / "ds")
    run = write_run(tmp_path / "run")
    probe(
        ProbeConfig(run=str(run), dataset=str(ds), permutations=9, min_examples=3, batch_size=16, workers=0)
    )
    d = dissect(str(run), "conv2/3", DissectConfig(frames=3, stimulus=StimulusConfig(steps=6)))
    paths = write(d, folder(str(run), "conv2", 3))
    with live_server(create_app(str(run))) as url, httpx.Client(base_url=url, timeout=60) as c:
        page = c.get("/units/conv2/3/dissection")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert page.text == Path(paths["index.html"]).read_text()
        js = c.get("/units/conv2/3/dissection.json")
        assert js.json() == json.loads(Path(paths["dissection.json"]).read_text())
        assert "scale_range" in js.json() and str(tmp_path) not in page.text + js.text
        missing = c.get("/units/conv2/4/dissection")
        assert missing.status_code == 404 and "unitscope dissect" in missing.json()["error"]
        assert c.get("/units/conv9/0/dissection.json").status_code == 404
        assert c.get("/units/conv2/-1/dissection").status_code == 422
