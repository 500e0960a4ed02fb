"""docs/tutorial-own-videos.md end to end on the real fixture clips: its CSV and sidecar are written as
shown, its Python block is executed, and every `unitscope` command of its bash blocks runs from the same
folder (train and probe with a `--config` that only makes them smaller, so the test takes minutes)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers import ROOT, cli_env, free_port, run_cli

DOC = (ROOT / "docs" / "tutorial-own-videos.md").read_text()
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SMALLER = {"train": "width: 64\nsteps: 5\n", "probe": "permutations: 19\n"}


def fenced(lang: str) -> list[str]:
    return [textwrap.dedent(b) for b in re.findall(rf"```{lang}\n(.*?)```", DOC, re.S)]


def commands() -> list[list[str]]:
    return [
        shlex.split(line) for b in fenced("bash") for line in b.splitlines() if line.startswith("unitscope ")
    ]


def test_the_readmes_own_videos_commands_are_the_tutorials():
    """README's recipe is the tutorial's commands, which the slow test below runs end to end."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## On your own videos\s+```bash\n(.*?)```", readme, re.S).group(1)
    lines = [shlex.split(line.split("#")[0]) for line in block.splitlines() if line.startswith("unitscope ")]
    assert lines and all(argv in commands() for argv in lines), lines


def test_the_tutorial_has_every_stage():
    assert [c[1] for c in commands()] == ["ingest", "train", "probe", "query", "query", "serve"]


@pytest.mark.slow
def test_tutorial_runs_end_to_end(tmp_path):
    shutil.copytree(FIXTURES / "videos", tmp_path / "videos")
    csv = next(b for b in re.findall(r"```\n(.*?)```", DOC, re.S) if b.lstrip().startswith("video,tags"))
    (tmp_path / "labels.csv").write_text(textwrap.dedent(csv))
    sidecar = fenced("json")[0]
    (tmp_path / "videos" / "eat.mkv.labels.json").write_text(sidecar)
    json.loads(sidecar)
    code = fenced("python")[0]
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True, env=cli_env())
    for stage, text in SMALLER.items():
        (tmp_path / f"{stage}.yaml").write_text(text)
    outputs = {}
    for argv in commands():
        stage = argv[1]
        if stage == "serve":
            continue
        extra = ["--config", f"{stage}.yaml"] if stage in SMALLER else []
        proc = run_cli(*argv[1:], *extra, cwd=tmp_path, timeout=900)
        assert proc.returncode == 0, f"{argv}: {proc.stderr[-2000:]}"
        outputs.setdefault(stage, []).append(proc)
    assert "5 ok, 0 failed" in outputs["ingest"][0].stderr
    probe_out = outputs["probe"][0].stdout
    assert re.search(r"^face\s+folder\s", probe_out, re.M)  # scored, detector or not
    # exemplars: scored, or named with the reason (few frames to expand into at this size)
    assert re.search(r"^face\s+exemplars\s", probe_out, re.M) or "'face' (exemplars labels)" in probe_out
    assert "not scored: too few examples of concept 'person'" in probe_out  # as the tutorial says
    assert json.loads(outputs["query"][1].stdout)["concept"] == "face"
    serve = next(c for c in commands() if c[1] == "serve")
    port = free_port()
    argv = [a if a != "8000" else str(port) for a in serve[1:]]
    server = subprocess.Popen([sys.executable, "-m", "unitscope", *argv], cwd=tmp_path, env=cli_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        for _ in range(300):
            try:
                concepts = httpx.get(f"http://127.0.0.1:{port}/concepts", timeout=2).json()
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise AssertionError("serve did not answer")
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert "face" in json.dumps(concepts)
