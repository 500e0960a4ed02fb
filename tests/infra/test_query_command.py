"""`unitscope query` and `unitscope serve` from the command line, on a small probed run."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from unitscope.pipeline import schema

from tests.helpers import ROOT, cli_env, free_port, run_cli
from tests.probe.query_run import small_run

pytestmark = pytest.mark.slow  # Ray, a subprocess or a server in every test


@pytest.fixture(scope="module")
def run(tmp_path_factory, ray_local):
    return small_run(tmp_path_factory)


def test_concept_names_are_matched_regardless_of_case(run):
    concept = run.catalog()[0]["concept"]
    got = json.loads(run_cli("query", run.run, "concept", concept.upper(), "--json", check=True).stdout)
    assert got["concept"] == concept and got["units"]


def test_concept_json_and_table(run):
    concept = run.catalog()[0]["concept"]
    expect = sorted((r for r in run.catalog() if r["concept"] == concept), key=lambda r: r["rank"])[:3]
    got = json.loads(run_cli("query", run.run, "concept", concept, "--top", "3", "--json", check=True).stdout)
    assert [u["unit"] for u in got["units"]] == [e["unit"] for e in expect]
    table = run_cli("query", run.run, "concept", concept, "--top", "3", check=True).stdout.splitlines()
    # ranked by the selection half's AUC, scored on the held-out half; the rule is stated under the rows
    assert table[0].split()[:6] == ["rank", "unit", "selection", "AUC", "held-out", "AUC"]
    assert [line.split()[1] for line in table[1 : 1 + len(expect)]] == [e["unit"] for e in expect]
    assert table[1 + len(expect)].startswith("ranked by selection AUC") and "detector =" in table[-1]


def test_unit_writes_its_top_frames(run, tmp_path):
    row = run.units()[2]
    out = tmp_path / "frames"
    proc = run_cli("query", run.run, "unit", row["unit"], "--top", "3", "--out", out, check=True)
    assert row["unit"] in proc.stdout and row["top_keys"][0] in proc.stdout
    shard_of = {f["key"]: f["shard"] for f in run.frames()}
    overlays = sorted(out.glob("*-overlay.png"))
    written = sorted(out.glob("*.jpg"))
    assert [p.name.split("-", 1)[1][: -len(".jpg")] for p in written] == row["top_keys"][:3]
    # beside each frame its overlay: a PNG of the frame's size that is not the frame itself
    assert [p.name[: -len("-overlay.png")] for p in overlays] == [p.stem for p in written]
    for jpg, png in zip(written, overlays, strict=True):
        a, b = Image.open(jpg), Image.open(png)
        assert b.format == "PNG" and a.size == b.size
        assert np.abs(np.asarray(a.convert("RGB"), float) - np.asarray(b.convert("RGB"), float)).mean() > 5
    for p, key in zip(written, row["top_keys"], strict=False):
        with tarfile.open(run.dataset / schema.shard_path(shard_of[key])) as tf:
            assert p.read_bytes() == tf.extractfile(f"{key}.jpg").read()


def test_image_finds_its_frame(run, tmp_path):
    row = run.frames()[11]
    with tarfile.open(run.dataset / schema.shard_path(row["shard"])) as tf:
        (tmp_path / "q.jpg").write_bytes(tf.extractfile(f"{row['key']}.jpg").read())
    got = json.loads(
        run_cli("query", run.run, "image", tmp_path / "q.jpg", "--top", "4", "--json", check=True).stdout
    )
    assert len(got["units"]) == 4 and row["key"] in [n["key"] for n in got["neighbors"] if n["score"] > 0.999]
    uris = {v["video_id"]: v["uri"] for v in run.videos()}
    for n in got["neighbors"]:  # the operator's tool says where each video is, unlike the server
        assert n["video_uri"] == uris[n["video_id"]] and n["video"] == Path(n["video_uri"]).name
    units = {u["unit"] for u in run.units()}
    assert all(u["unit"] in units for u in got["units"])
    zs = [u["z"] for u in got["units"]]
    assert zs == sorted(zs, reverse=True)
    table = run_cli("query", run.run, "image", tmp_path / "q.jpg", "--top", "4", check=True).stdout
    assert "units that fire most" in table and row["key"] in table


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["concept", "zebra"], "unknown concept 'zebra'"),
        (["unit", "conv1/x"], "not a unit"),
        (["unit", "conv1/9999"], "channels 0.."),
        (["concept", "face", "--top", "0"], "--top"),
        (["image", "/nonexistent/q.jpg"], "cannot read image"),
        (["image", str(ROOT / "README.md")], f"{ROOT / 'README.md'} is not an image"),
        (["concept", "fase"], "unknown concept 'fase' (did you mean 'face'?)"),
    ],
)
def test_unknown_names_exit_nonzero(run, args, message):
    proc = run_cli("query", run.run, *args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr


def _listening_addresses(port: int) -> set[str]:
    """Local IPv4 addresses with a socket listening on `port`, from /proc/net/tcp."""
    addrs = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        ip_hex, port_hex = local.split(":")
        if state == "0A" and int(port_hex, 16) == port:
            addrs.add(".".join(str(int(ip_hex[i : i + 2], 16)) for i in (6, 4, 2, 0)))
    return addrs


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/net/tcp")
def test_serve_binds_loopback_by_default(run):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "unitscope", "serve", str(run.run), "--port", str(port)],
        cwd=ROOT, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.time() + 60
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()["status"] == "ok"
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.time() < deadline, "unitscope serve did not start"
                time.sleep(0.3)
        assert _listening_addresses(port) == {"127.0.0.1"}
    finally:
        proc.terminate()
        proc.wait(timeout=20)
