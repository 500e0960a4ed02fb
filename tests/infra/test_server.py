"""Every endpoint of the query server, over a real socket, checked against the run's catalogue tables."""

from __future__ import annotations

import html
import io
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from unitscope.infra.server import create_app
from unitscope.pipeline import schema
from unitscope.probe.detector import DetectorRule
from unitscope.probe.query import RunQueries

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


def test_healthz_and_openapi(client, run):
    assert client.get("/healthz").json() == {"status": "ok", "run": run.run.name, "frames": len(run.frames())}
    paths = client.get("/openapi.json").json()["paths"]
    for p in ["/concepts", "/concepts/{name}/units", "/units/{layer}/{channel}", "/units/{layer}/{channel}/frames",
              "/frames/{name}", "/query/image", "/neighbors", "/healthz"]:  # fmt: skip
        assert p in paths
    assert "multipart/form-data" in paths["/query/image"]["post"]["requestBody"]["content"]


def test_concepts_and_their_units(client, run):
    rows = run.catalog()
    concepts = client.get("/concepts").json()
    assert sorted(c["concept"] for c in concepts) == sorted({r["concept"] for r in rows})
    for c in concepts:
        expect = sorted((r for r in rows if r["concept"] == c["concept"]), key=lambda r: r["rank"])
        got = client.get(f"/concepts/{c['concept']}/units", params={"top": 3}).json()["units"]
        assert [g["unit"] for g in got] == [e["unit"] for e in expect[:3]]
        assert [g["auc"] for g in got] == pytest.approx([e["auc"] for e in expect[:3]])
        assert c["best"]["unit"] == expect[0]["unit"]
    r = client.get("/concepts/zebra/units")
    assert r.status_code == 404 and "zebra" in r.json()["error"]


def test_unit_and_its_frames(client, run):
    catalog = run.catalog()
    row = run.units()[3]
    layer, channel = row["unit"].split("/")
    got = client.get(f"/units/{layer}/{channel}", params={"top": 4}).json()
    assert got["unit"] == row["unit"] and got["std"] == pytest.approx(row["std"])
    assert got["histogram"]["counts"] == list(row["hist_counts"])
    assert {c["concept"] for c in got["concepts"]} == {
        r["concept"] for r in catalog if r["unit"] == row["unit"]
    }
    frames = client.get(f"/units/{layer}/{channel}/frames", params={"top": 4}).json()["frames"]
    assert [f["key"] for f in frames] == row["top_keys"][:4] == [f["key"] for f in got["frames"]]
    assert [f["activation"] for f in frames] == pytest.approx(row["top_values"][:4])


def test_frame_jpeg_is_the_tar_member(client, run):
    for row in run.frames()[::7]:
        r = client.get(f"/frames/{row['key']}.jpg")
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
        with tarfile.open(run.dataset / schema.shard_path(row["shard"])) as tf:
            assert r.content == tf.extractfile(f"{row['key']}.jpg").read()
    assert client.get("/frames/0123456789abcdef-0000001.jpg").status_code == 404


def test_neighbors(client, run):
    key = run.frames()[7]["key"]
    got = client.get("/neighbors", params={"key": key, "top": 4}).json()["neighbors"]
    assert len(got) == 4 and key not in [g["key"] for g in got]
    known = {f["key"] for f in run.frames()}
    assert all(g["key"] in known for g in got)


def test_a_frame_names_its_video_by_file_name_not_location(client, run):
    """Answers name a frame's video by id and file name; where the server keeps it (`video_uri`, which
    `unitscope query` shows the operator) is left out, and the schema allows no other field."""
    frames = {f["key"]: f for f in run.frames()}
    uris = {v["video_id"]: v["uri"] for v in run.videos()}
    row = run.units()[1]
    layer, channel = row["unit"].split("/")
    image = client.get(f"/frames/{row['top_keys'][0]}.jpg").content
    answers = [
        client.get(f"/units/{layer}/{channel}/frames", params={"top": 3}).json()["frames"],
        client.get(f"/units/{layer}/{channel}", params={"top": 3}).json()["frames"],
        client.get("/neighbors", params={"key": row["top_keys"][0], "top": 3}).json()["neighbors"],
        client.post("/query/image", params={"top": 3}, files={"file": ("f.jpg", image, "image/jpeg")}).json()[
            "neighbors"
        ],
    ]
    for got in answers:
        assert len(got) == 3
        for f in got:
            video_id = frames[f["key"]]["video_id"]
            assert f["video_id"] == video_id and f["video"] == Path(uris[video_id]).name
            assert f["video"].startswith("clip-") and "video_uri" not in f
    page = client.get(f"/gallery/units/{layer}/{channel}", params={"top": 3}).text
    assert Path(uris[frames[row["top_keys"][0]]["video_id"]]).name in page
    frame = client.get("/openapi.json").json()["components"]["schemas"]["UnitFrame"]
    assert frame["additionalProperties"] is False and "video_uri" not in frame["properties"]
    assert {"video_id", "video"} <= set(frame["required"])


def test_html_pages(client, run):
    index = client.get("/")
    assert index.status_code == 200 and "text/html" in index.headers["content-type"]
    rule = html.escape(DetectorRule().text())  # the small run's probe applied the default rule
    assert rule in index.text
    for concept in {r["concept"] for r in run.catalog()}:
        assert f'<a href="/gallery/concepts/{concept}">{concept}</a>' in index.text
        page = client.get(f"/gallery/concepts/{concept}")
        assert page.status_code == 200 and f"Concept {concept}" in page.text and rule in page.text
        ranked = sorted((r for r in run.catalog() if r["concept"] == concept), key=lambda r: r["rank"])
        links = [f'<a href="/gallery/units/{r["unit"]}">' for r in ranked]
        assert all(link in page.text for link in links)
        assert [page.text.index(link) for link in links] == sorted(page.text.index(link) for link in links)
    assert client.get("/gallery/concepts/no-such-concept").status_code == 404
    row = run.units()[0]
    layer, channel = row["unit"].split("/")
    page = client.get(f"/gallery/units/{layer}/{channel}", params={"top": 5})
    assert page.status_code == 200 and "<svg" in page.text
    assert page.text.count('<img loading="eager"') == 5  # each frame as the unit's map over it, with the page
    for key in row["top_keys"][:5]:
        assert (
            f"/frames/{key}.jpg" in page.text and f"/units/{layer}/{channel}/overlays/{key}.png" in page.text
        )


def test_query_image_concurrent_uploads_get_their_own_answers(client, run):
    """Uploads arriving together share encoder batches; each answer must still be its own image's."""
    rows = run.frames()[::5][:8]
    jpegs = {r["key"]: client.get(f"/frames/{r['key']}.jpg").content for r in rows}

    def ask(key: str) -> tuple[str, dict]:
        with httpx.Client(base_url=client.base_url, timeout=60) as c:
            r = c.post("/query/image", params={"top": 3}, files={"file": ("f.jpg", jpegs[key], "image/jpeg")})
            assert r.status_code == 200, r.text
            return key, r.json()

    with ThreadPoolExecutor(len(jpegs)) as pool:
        answers = dict(pool.map(ask, jpegs))
    expect = RunQueries(str(run.run)).images(list(jpegs.values()), top=3)
    for (key, got), want in zip(answers.items(), expect, strict=True):
        assert len(got["units"]) == len(got["neighbors"]) == 3
        assert key in [n["key"] for n in got["neighbors"] if n["score"] > 0.999]
        assert [u["unit"] for u in got["units"]] == [u["unit"] for u in want["units"]]
        assert [u["z"] for u in got["units"]] == pytest.approx([u["z"] for u in want["units"]], rel=1e-4)


def test_concurrent_neighbour_queries_share_a_search_and_a_bad_key_fails_alone(client, run):
    """Neighbour queries arriving together are searched as one batch; each answer is still its own key's
    (as one query alone gets it), with its own `top`, and a key the index lacks is a 404 of its own."""
    keys = [r["key"] for r in run.frames()[::7][:8]]
    asks = [(k, 2 + i % 3) for i, k in enumerate(keys)] + [("0123456789abcdef-0000001", 3)]

    def ask(item: tuple[str, int]) -> httpx.Response:
        with httpx.Client(base_url=client.base_url, timeout=60) as c:
            return c.get("/neighbors", params={"key": item[0], "top": item[1]})

    with ThreadPoolExecutor(len(asks)) as pool:
        got = list(pool.map(ask, asks))
    assert got[-1].status_code == 404 and "0123456789abcdef-0000001" in got[-1].json()["error"]
    alone = RunQueries(str(run.run))
    for (key, top), r in zip(asks[:-1], got[:-1], strict=True):
        assert r.status_code == 200, r.text
        want = alone.neighbors(key, top)
        assert [n["key"] for n in r.json()["neighbors"]] == [n["key"] for n in want] and len(want) == top


# GET /units/{layer}/{channel}/overlays/{key}.png: the unit's map over the frame
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
