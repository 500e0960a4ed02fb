"""The query server's OpenAPI contract, held by a schema-driven fuzzer (schemathesis) against a real
`unitscope serve` on a tiny run over a socket, and the server never says where it keeps the run.

The fuzzer runs every check it has (status codes, content types, response schemas, schema-valid
requests accepted and invalid ones rejected, 405 + `Allow` for undeclared methods, ...) and one of
ours (tests/infra/fuzz_hooks.py: no response names the run's location), with a fixed seed and a
bounded number of examples per operation, through all four of its phases. A config file hands it the
run's real concept, layer and frame names for part of its draws, so that it reaches the answers
(200s) and not only the 404s of names it made up.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import httpx
import pytest
from openapi_spec_validator import validate

from tests.helpers import ROOT, cli_env, free_port
from tests.probe.query_run import small_run
from tests.probe.test_query import _png

pytestmark = pytest.mark.slow  # Ray, a subprocess or a server in every test

SEED = 20261130
MAX_EXAMPLES = 30  # per operation and phase: ~900 requests, ~10 s on two shared cores
LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def run(tmp_path_factory, ray_local):
    return small_run(tmp_path_factory)


def hidden_paths(run) -> list[str]:
    """Every spelling of where the run, its dataset and the videos it was ingested from live, which
    no answer may contain (a frame's video is named by its file name, not its URI)."""
    out = set()
    for p in (run.run, run.dataset, run.source):
        out |= {str(p), str(p.resolve()), str(p.absolute())}
    return sorted(out)


@pytest.fixture(scope="module")
def server(run, tmp_path_factory):
    """`unitscope serve RUN` in its own process on a free loopback port; yields its base URL. One unit
    is dissected first, so the dissection routes answer 200s as well as 404s."""
    from unitscope.probe.dissect.dissection import DissectConfig, dissect, folder, write
    from unitscope.probe.dissect.stimulus import StimulusConfig

    unit = run.catalog()[0]["unit"]
    d = dissect(str(run.run), unit, DissectConfig(frames=3, stimulus=StimulusConfig(steps=8)))
    write(d, folder(str(run.run), *unit.split("/")))
    config = tmp_path_factory.mktemp("serve-fuzz") / "serve.json"
    config.write_text(json.dumps({"max_upload_bytes": LIMIT}))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "unitscope", "serve", str(run.run), "--port", str(port), "--no-access-log",
         "--config", str(config)],
        cwd=ROOT, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                httpx.get(url + "/healthz", timeout=2).raise_for_status()
                break
            except httpx.TransportError:
                assert proc.poll() is None, f"unitscope serve exited: {proc.stderr.read()[-2000:]}"
                assert time.time() < deadline, "unitscope serve did not start in 60 s"
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def fuzz_config(run) -> str:
    """schemathesis.toml: the run's real names, drawn half of the time for the parameter they fit."""
    concepts = sorted({r["concept"] for r in run.catalog()})
    units = run.units()
    layers = sorted({r["layer"] for r in units})
    channels = sorted({r["channel"] for r in units})
    keys = [f["key"] for f in run.frames()]
    dictionaries = {
        "concepts": concepts, "layers": layers, "channels": channels,
        "keys": keys, "frames": [k + ".jpg" for k in keys], "overlays": [k + ".png" for k in keys],
    }  # fmt: skip
    lines = []
    for name, values in dictionaries.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
    uses = {
        "/concepts/{name}/units": {"path.name": "concepts"},
        "/frames/{name}": {"path.name": "frames"},
        "/neighbors": {"query.key": "keys"},
        "/units/{layer}/{channel}": {"path.layer": "layers", "path.channel": "channels"},
        "/units/{layer}/{channel}/frames": {"path.layer": "layers", "path.channel": "channels"},
        "/gallery/units/{layer}/{channel}": {"path.layer": "layers", "path.channel": "channels"},
        "/units/{layer}/{channel}/overlays/{file}": {
            "path.layer": "layers", "path.channel": "channels", "path.file": "overlays"
        },
        "/units/{layer}/{channel}/dissection": {"path.layer": "layers", "path.channel": "channels"},
        "/units/{layer}/{channel}/dissection.json": {"path.layer": "layers", "path.channel": "channels"},
    }  # fmt: skip
    for path, params in uses.items():
        bound = ", ".join(f'"{p}" = {{ dictionary = "{d}", probability = 0.5 }}' for p, d in params.items())
        lines += ["[[operations]]", f'include-path = "{path}"', f"parameters = {{ {bound} }}", ""]
    return "\n".join(lines)


def test_fuzzer_finds_no_failure(server, run, tmp_path):
    config = tmp_path / "schemathesis.toml"
    config.write_text(fuzz_config(run))
    cmd = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run", server + "/openapi.json",
        "--checks", "all", "--phases", "examples,coverage,fuzzing,stateful", "--mode", "all",
        "--seed", str(SEED), "--max-examples", str(MAX_EXAMPLES), "--workers", "1",
        "--max-response-time", "10", "--request-timeout", "30", "--no-color",
        # Hypothesis' own timing of data generation, which 2 cores shared with other tests can fail
        "--suppress-health-check", "too_slow",
    ]  # fmt: skip
    env = cli_env(
        SCHEMATHESIS_HOOKS="tests.infra.fuzz_hooks", UNITSCOPE_FUZZ_HIDDEN=os.pathsep.join(hidden_paths(run))
    )
    # cwd: the CLI keeps a cache in .schemathesis/ where it runs
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    report = proc.stdout + proc.stderr
    assert proc.returncode == 0, report[-12000:]
    cases = re.search(r"(\d+) generated, (\d+) passed", report)
    assert cases and int(cases[1]) == int(cases[2]) >= 300, report[-3000:]  # it drove every operation


def test_openapi_document_is_valid(server):
    doc = httpx.get(server + "/openapi.json").json()
    validate(doc)
    ops = doc["paths"]
    for path, statuses in {
        "/concepts/{name}/units": {"200", "404", "422"},
        "/units/{layer}/{channel}": {"200", "404", "422"},
        "/units/{layer}/{channel}/frames": {"200", "404", "422"},
        "/gallery/units/{layer}/{channel}": {"200", "404", "422"},
        "/units/{layer}/{channel}/dissection": {"200", "404", "422"},
        "/units/{layer}/{channel}/dissection.json": {"200", "404", "422"},
        "/frames/{name}": {"200", "404", "422"},
        "/neighbors": {"200", "404", "422"},
        "/units/{layer}/{channel}/overlays/{file}": {"200", "404", "422"},
    }.items():
        assert statuses <= set(ops[path]["get"]["responses"]), path
    assert {"200", "413", "422"} <= set(ops["/query/image"]["post"]["responses"])
    key = next(p for p in ops["/neighbors"]["get"]["parameters"] if p["name"] == "key")
    assert key["schema"]["pattern"] == "^[0-9a-f]{16}-[0-9]+$"
    body = ops["/query/image"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert "image/png" in body["encoding"]["file"]["contentType"]


def _every_kind_of_answer(server: str, run) -> list[httpx.Response]:
    """One request of each kind the server answers: successes, each error status, each route."""
    key = run.frames()[3]["key"]
    unit = run.units()[2]
    layer, channel = unit["layer"], unit["channel"]
    concept = run.catalog()[0]["concept"]
    dissected = run.catalog()[0]["unit"]  # the unit the server fixture dissected
    with httpx.Client(base_url=server, timeout=60) as c:
        gets = [
            "/healthz", "/concepts", f"/concepts/{concept}/units", "/concepts/zebra/units",
            f"/units/{layer}/{channel}", f"/units/{layer}/99999", "/units/nolayer/0",
            f"/units/{layer}/{channel}/frames", "/units/nolayer/0/frames", f"/frames/{key}.jpg",
            "/frames/0123456789abcdef-0000001.jpg", "/frames/x.png", f"/neighbors?key={key}",
            "/neighbors?key=0123456789abcdef-0000001", "/neighbors?key=../etc", "/",
            f"/gallery/units/{layer}/{channel}", "/gallery/units/nolayer/0", "/openapi.json", "/docs",
            "/no/such/route", "/concepts?top=x", f"/units/{layer}/{channel}/overlays/{key}.png",
            f"/units/nolayer/0/overlays/{key}.png", f"/units/{layer}/{channel}/overlays/{key}.jpg",
            f"/units/{layer}/{channel}/overlays/0123456789abcdef-0000001.png",
            f"/units/{dissected}/dissection",
            f"/units/{dissected}/dissection.json", f"/units/{layer}/{channel}/dissection.json",
            "/units/nolayer/0/dissection",
        ]  # fmt: skip
        out = [c.get(p) for p in gets]
        out += [c.request(m, "/healthz") for m in ("PUT", "DELETE", "TRACE", "OPTIONS")]
        image = c.get(f"/frames/{key}.jpg").content
        out.append(c.post("/query/image", files={"file": ("f.jpg", image, "image/jpeg")}))
        out.append(c.post("/query/image", files={"file": ("f.png", _png(9000, 9000), "image/png")}))
        out.append(c.post("/query/image", files={"file": ("f.bin", b"\0" * (LIMIT + 1), "image/png")}))
        out.append(c.post("/query/image", content=b"{}", headers={"content-type": "application/json"}))
    return out


def test_no_answer_discloses_where_the_server_keeps_its_files(server, run):
    answers = _every_kind_of_answer(server, run)
    statuses = {r.status_code for r in answers}
    assert {200, 404, 405, 413, 422} <= statuses  # the errors, whose messages name the run, were reached
    for r in answers:
        for hidden in hidden_paths(run):
            assert hidden.encode() not in r.content, (r.request.url, r.text[:300])
            assert all(hidden not in v for v in r.headers.values()), (r.request.url, r.headers)
    health = next(r for r in answers if r.request.url.path == "/healthz")
    assert health.json()["run"] == run.run.name  # named, not located


def test_405_names_the_allowed_methods(server):
    for method, path, allowed in [
        ("PUT", "/healthz", "GET"),
        ("TRACE", "/concepts", "GET"),
        ("DELETE", "/frames/0123456789abcdef-0000001.jpg", "GET"),
        ("GET", "/query/image", "POST"),
    ]:
        r = httpx.request(method, server + path, timeout=30)
        assert r.status_code == 405 and r.headers["allow"] == allowed, (method, path, r.headers)
        assert r.json() == {"error": "Method Not Allowed", "status": 405}
