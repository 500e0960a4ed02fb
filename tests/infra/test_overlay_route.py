"""GET /units/{layer}/{channel}/overlays/{key}.png over a real socket: the unit's map over the frame."""

from __future__ import annotations

import io

import httpx
import numpy as np
import pytest
from PIL import Image
from unitscope.infra.server import create_app

from tests.infra.live_server import live_server
from tests.probe.query_run import small_run

pytestmark = pytest.mark.slow  # Ray, a subprocess or a server in every test


@pytest.fixture(scope="module")
def run(tmp_path_factory, ray_local):
    return small_run(tmp_path_factory)


@pytest.fixture(scope="module")
def client(run):
    with live_server(create_app(str(run.run))) as url, httpx.Client(base_url=url, timeout=60) as c:
        yield c


def test_overlay_is_a_png_of_the_frame_with_the_map(client, run):
    unit = run.units()[2]
    layer, channel = unit["unit"].split("/")
    key = unit["top_keys"][0]
    r = client.get(f"/units/{layer}/{channel}/overlays/{key}.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    frame = Image.open(io.BytesIO(client.get(f"/frames/{key}.jpg").content)).convert("RGB")
    over = Image.open(io.BytesIO(r.content))
    assert over.format == "PNG" and over.size == frame.size
    assert np.abs(np.asarray(over.convert("RGB"), float) - np.asarray(frame, float)).mean() > 5
    # another unit's map differs on the same frame
    other = run.units()[5]["unit"].split("/")
    assert client.get(f"/units/{other[0]}/{other[1]}/overlays/{key}.png").content != r.content
    # the gallery's unit page shows the overlays
    page = client.get(f"/gallery/units/{layer}/{channel}").text
    assert f"/units/{layer}/{channel}/overlays/{key}.png" in page


def test_overlay_errors_are_json_naming_the_problem(client, run):
    key = run.frames()[0]["key"]
    bad = client.get(f"/units/nolayer/0/overlays/{key}.png")
    assert bad.status_code == 404 and "nolayer" in bad.json()["error"]
    layer = run.units()[0]["layer"]
    assert client.get(f"/units/{layer}/99999/overlays/{key}.png").status_code == 404
    missing = client.get(f"/units/{layer}/0/overlays/0123456789abcdef-0000001.png")
    assert missing.status_code == 404 and "0123456789abcdef-0000001" in missing.json()["error"]
    assert client.get(f"/units/{layer}/0/overlays/{key}.jpg").status_code == 422
