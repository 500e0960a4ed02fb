"""Damage, randomized but seeded: flip a byte in or cut off the end of each kind of file a dataset or run
holds, then run every command that reads it. Each run must give the undamaged result exactly, or exit
non-zero naming the damaged file; never a different result, never a traceback. One small dataset (4 clips,
4 shards) and one probed run are made once and copied per case."""

from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch
from unitscope.infra.cli import main
from unitscope.train import checkpoint

from tests.probe.test_damaged_shards import clips as clips
from tests.probe.tiny_dataset import write_run

ARTIFACTS = {  # kind -> (dataset or run, path inside it, the commands that read it)
    "shard": ("ds", "shards/frames-000001.tar", ["probe", "verify", "query_frames"]),
    "frames": ("ds", "manifest/frames.parquet", ["probe", "verify", "ingest", "query_frames"]),
    "videos": ("ds", "manifest/videos.parquet", ["verify", "ingest", "query_frames"]),
    "shards": ("ds", "manifest/shards.parquet", ["probe", "verify", "ingest"]),
    "plan": ("ds", "manifest/plan.json", ["verify", "ingest"]),
    "encoder": ("run", "encoder.pt", ["probe", "verify_run", "query_image"]),
    "checkpoint": ("run", "checkpoints/step-00000001.pt", ["verify_run"]),
    "chunk": ("run", "probe/activations/trained/shard-000001.npy", ["probe", "verify_run"]),
    "catalogue": ("run", "probe/catalog.parquet", ["query_concept", "verify_run"]),
    "index": ("run", "probe/frames.faiss", ["verify_run", "query_image"]),
}
SEEDS = [0, 1, 2]  # even: a flipped byte, odd: the file cut at a random point


def _commands(root: Path, clips: Path) -> dict[str, list[str]]:
    ds, run = str(root / "ds"), str(root / "run")
    image = str(root / "query.jpg")
    return {
        "probe": ["probe", run, ds, "--workers", "0", "--permutations", "9"],
        "verify": ["verify", ds],
        "verify_run": ["verify", run],
        "ingest": [
            "ingest",
            str(clips),
            ds,
            "--fps",
            "10",
            "--size",
            "32",
            "--shard-frames",
            "30",
            "--workers",
            "0",
            "--quiet",
        ],
        "query_frames": ["query", run, "unit", "conv1/0", "--top", "4", "--json", "--out", str(root / "got")],
        "query_concept": ["query", run, "concept", "mark", "--json"],
        "query_image": ["query", run, "image", image, "--json"],
    }


def _result(name: str, root: Path, stdout: str) -> object:
    """What a command's result is, to compare with the undamaged one."""
    if name == "probe":
        return pq.read_table(root / "run" / "probe" / "catalog.parquet").to_pylist()
    if name == "ingest":
        return pq.read_table(root / "ds" / "manifest" / "frames.parquet").to_pylist()
    if name == "query_frames":
        return stdout, sorted((p.name, p.read_bytes()) for p in (root / "got").iterdir())
    if name.startswith("verify"):
        return stdout.strip().split(": ", 1)[-1]  # what was checked and found, without the path
    return stdout


def _run(args: list[str], capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(args)  # a traceback would escape here and fail the test
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, clips):
    from PIL import Image

    root = tmp_path_factory.mktemp("damage") / "pristine"
    root.mkdir()
    assert main(_commands(root, clips)["ingest"]) == 0
    write_run(root / "run")
    state = {"step": 1, "model": {k: v.clone() for k, v in torch.nn.Linear(4, 2).state_dict().items()}}
    checkpoint.save(str(root / "run"), state, keep=2)
    Image.new("RGB", (32, 32), (200, 180, 40)).save(root / "query.jpg")
    return root


@pytest.fixture(scope="module")
def baseline(pristine, clips, tmp_path_factory):
    """Each command's result on an undamaged copy (the probe first: the query commands read its output)."""
    import _pytest.capture

    results = {}
    root = tmp_path_factory.mktemp("baseline")
    shutil.copytree(pristine, root, dirs_exist_ok=True)
    capture = _pytest.capture.CaptureFixture(_pytest.capture.SysCapture, None, _ispytest=True)
    capture._start()
    try:
        for name, args in _commands(root, clips).items():
            code, out, err = _run(args, capture)
            assert code == 0, (name, err)
            results[name] = _result(name, root, out)
            shutil.rmtree(root / "got", ignore_errors=True)
    finally:
        capture.close()
    shutil.copytree(root / "run" / "probe", pristine / "run" / "probe")  # cases start from a probed run
    return results


def _damage(path: Path, seed: int) -> str:
    data = bytearray(path.read_bytes())
    rng = random.Random(f"{path.name}/{seed}")
    if seed % 2 == 0:
        at = rng.randrange(len(data))
        data[at] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(data))
        return f"bit flipped at byte {at} of {len(data)}"
    at = rng.randrange(len(data))
    path.write_bytes(bytes(data[:at]))
    return f"cut at {at} of {len(data)} bytes"


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", list(ARTIFACTS))
def test_damage_is_reported_or_harmless(kind, seed, pristine, baseline, clips, tmp_path, capsys):
    where, rel, commands = ARTIFACTS[kind]
    for name in commands:
        root = tmp_path / name
        shutil.copytree(pristine, root)
        how = _damage(root / where / rel, seed)
        code, out, err = _run(_commands(root, clips)[name], capsys)
        context = f"{kind} {how}: `{name}` exit {code}\n{out}\n{err}"
        assert "Traceback" not in out + err, context
        if code == 0:
            got, want = _result(name, root, out), baseline[name]
            first = next((pair for pair in zip(got, want, strict=False) if pair[0] != pair[1]), None)
            assert got == want, f"a different result without a word ({first}): {context}"
        else:
            assert Path(rel).name in err, "the error does not name the damaged file: " + context
            if name.startswith("verify"):
                assert "unitscope" in err, context  # each problem comes with the command that rebuilds it
            else:
                assert len([line for line in err.splitlines() if "error:" in line]) == 1, context
        json.dumps(context)  # the context stays printable for the assertion messages


@pytest.mark.slow
def test_verify_checks_the_shards_on_ray(pristine, tmp_path, capsys):
    root = tmp_path / "copy"
    shutil.copytree(pristine, root)
    _damage(root / "ds" / "shards" / "frames-000002.tar", 0)
    code, out, err = _run(["verify", str(root / "ds"), "--workers", "2"], capsys)
    assert code == 1 and "4 shards, " in out and "1 problem(s)" in out, out + err
    assert "frames-000002.tar: " in err and "unitscope ingest" in err


TRAIN = {"width": 8, "input_size": 32, "batch_size": 8, "loader_workers": 0, "shuffle_buffer": 16,
         "log_every": 1, "checkpoint_every": 2}  # fmt: skip
RESUMED_STEPS = 6  # a run trained to step 4 (its checkpoint), resumed to 6


def _train(root: Path, *extra: str) -> list[str]:
    return ["train", str(root / "ds"), str(root / "trained"), "--workers", "0",
            "--config", str(root / "train.yaml"), *extra]  # fmt: skip


def _trained_result(run: Path) -> object:
    """What a resumed run produced: its loss per step and the final weights, bit for bit."""
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    weights = torch.load(run / "encoder.pt", map_location="cpu", weights_only=True)
    return [(r["step"], r["loss"]) for r in rows], {k: v.tolist() for k, v in sorted(weights.items())}


@pytest.fixture(scope="module")
def trained(pristine, tmp_path_factory):
    """A copy of the dataset with a run trained to step 4, and the result of resuming it undamaged."""
    import yaml

    root = tmp_path_factory.mktemp("trained")
    shutil.copytree(pristine / "ds", root / "ds")
    (root / "train.yaml").write_text(yaml.safe_dump(TRAIN))
    assert main(_train(root, "--steps", "4")) == 0
    assert json.loads((root / "trained" / "checkpoints" / "latest.json").read_text())["step"] == 4
    again = root.parent / "trained-again"
    shutil.copytree(root, again)
    assert main(_train(again, "--resume", "--steps", str(RESUMED_STEPS))) == 0
    return root, _trained_result(again / "trained")


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_resume_from_a_damaged_checkpoint_is_refused_or_identical(seed, trained, tmp_path, capsys):
    pristine_root, want = trained
    root = tmp_path / "copy"
    shutil.copytree(pristine_root, root)
    ckpt = root / "trained" / "checkpoints" / "step-00000004.pt"
    how = _damage(ckpt, seed)
    code, out, err = _run(_train(root, "--resume", "--steps", str(RESUMED_STEPS)), capsys)
    context = f"checkpoint {how}: `train --resume` exit {code}\n{out}\n{err}"
    assert "Traceback" not in out + err, context
    if code == 0:
        assert _trained_result(root / "trained") == want, "a different result without a word: " + context
    else:
        errors = [line for line in err.splitlines() if "error:" in line]
        assert len(errors) == 1 and ckpt.name in errors[0], context
        # the fix it names: resume from the checkpoint before (its digest checked too), and that works
        older = json.loads(errors[0].split("write ", 1)[1].split(" into ", 1)[0])
        assert older == {"step": 2, "file": "step-00000002.pt"}, context
        (ckpt.parent / "latest.json").write_text(json.dumps(older))
        assert main(_train(root, "--resume", "--steps", str(RESUMED_STEPS))) == 0, context
        steps, _ = _trained_result(root / "trained")
        assert [s for s, _ in steps] == list(range(1, RESUMED_STEPS + 1)), context


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])  # a flipped bit, the file cut
@pytest.mark.parametrize(
    "kind,rel",
    [("exact", "probe/frames.faiss"), ("ivf", "probe/frames.faiss"), ("ivf", "probe/frames.ivfdata")],
)
def test_a_damaged_frame_index_stops_image_and_neighbour_queries_naming_the_rebuild(
    kind, rel, seed, pristine, baseline, clips, tmp_path, capsys
):
    """Sizes and the probe's digests are checked as the index loads: `query image` and the server (whose
    /neighbors and POST /query/image search it) refuse it with one error naming the file, the run and the
    command that rebuilds it, whether the index is the exact flat file or IVF lists beside it."""
    from unitscope.infra.server import create_app
    from unitscope.probe import ivf_index

    from unitscope.core.errors import InputError

    root = tmp_path / "copy"
    shutil.copytree(pristine, root)
    run = root / "run"
    if kind == "ivf":
        params = ivf_index.choose(100, "sq8")
        params.nlist, params.nprobe = 4, 4
        ivf_index.build(str(run), params)
    how = _damage(run / rel, seed)
    code, out, err = _run(_commands(root, clips)["query_image"], capsys)
    context = f"{rel} {how}: exit {code}\n{out}\n{err}"
    assert code != 0 and "Traceback" not in out + err, context
    assert len([line for line in err.splitlines() if "error:" in line]) == 1, context
    rebuild = re.compile(rf"`unitscope probe {re.escape(str(run))} \S+ --frame-index {kind}`")
    assert Path(rel).name in err and rebuild.search(err), context
    with pytest.raises(InputError) as refused:
        create_app(str(run))
    assert Path(rel).name in str(refused.value) and rebuild.search(str(refused.value))
