"""The planted-concept corpus end to end: files, determinism across executors and storage, decoding,
documented ranges, and the `unitscope synth` command."""

from __future__ import annotations

import json
import shutil
import subprocess

import av
import numpy as np
import pytest
from PIL import Image
from unitscope.pipeline import schema
from unitscope.pipeline.synth import SynthConfig, run
from unitscope.pipeline.synth.config import RANGES
from unitscope.pipeline.synth.preview import sheet_size

from tests.helpers import run_cli
from unitscope.core import storage

BASE = {"videos": 4, "seconds": 4.0, "seed": 21}


@pytest.fixture(scope="module")
def synth_corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "corpus"
    cfg = SynthConfig(out=str(out), workers=0, **BASE)
    result = run(cfg)
    assert not result.failed
    return cfg, result, out


def decoded(path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def test_files_and_corpus_json(synth_corpus):
    cfg, result, out = synth_corpus
    names = sorted(p.name for p in out.iterdir())
    expected = [f"clip-{i:04d}{ext}" for i in range(4) for ext in (".mp4" + schema.LABELS_SUFFIX, ".mp4")]
    assert names == sorted([*expected, "corpus.json"])  # no temporary files left behind
    doc = json.loads((out / "corpus.json").read_text())
    assert doc["concepts"] == ["face", "wheel", "cat", "walker"]
    assert doc["visible_min"] == schema.VISIBLE_MIN and str(schema.VISIBLE_MIN) in doc["visibility_rule"]
    assert doc["ranges"]["concept_frame_fraction"] == list(RANGES["concept_frame_fraction"])
    assert [c["frames"] for c in doc["clips"]] == [cfg.frames] * 4
    assert doc["measured"] == result.stats


def test_sidecars_follow_the_contract(synth_corpus):
    cfg, _, out = synth_corpus
    for i in range(cfg.videos):
        doc = json.loads((out / f"clip-{i:04d}.mp4{schema.LABELS_SUFFIX}").read_text())
        assert doc["version"] == schema.LABELS_VERSION and doc["concepts"] == cfg.concepts
        assert [f["frame"] for f in doc["frames"]] == list(range(cfg.frames))
        for f in doc["frames"]:
            for o in f["objects"]:
                x0, y0, x1, y1 = o["box"]
                assert o["concept"] in cfg.concepts and schema.VISIBLE_MIN <= o["visible"] <= 1
                assert 0 <= x0 < x1 <= cfg.width and 0 <= y0 < y1 <= cfg.height


def test_clips_decode_with_pyav(synth_corpus):
    cfg, _, out = synth_corpus
    for i in range(cfg.videos):
        with av.open(str(out / f"clip-{i:04d}.mp4")) as c:
            s = c.streams.video[0]
            assert s.codec_context.name == "h264" and s.format.name == "yuv420p"
            assert (s.width, s.height) == (640, 360) and float(s.average_rate) == pytest.approx(30)
            assert sum(1 for _ in c.decode(video=0)) == cfg.frames


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg CLI not installed")
def test_clips_decode_with_ffmpeg_cli(synth_corpus):
    _, _, out = synth_corpus
    proc = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(out / "clip-0001.mp4"), "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and proc.stderr == ""


def test_documented_ranges_hold(synth_corpus):
    cfg, result, out = synth_corpus
    m = result.stats
    assert m["frames"] == cfg.videos * cfg.frames >= 300
    lo, hi = RANGES["concept_frame_fraction"]
    # recount from the sidecars: what ingest will see
    counts = dict.fromkeys(cfg.concepts, 0)
    for i in range(cfg.videos):
        doc = json.loads((out / f"clip-{i:04d}.mp4{schema.LABELS_SUFFIX}").read_text())
        for f in doc["frames"]:
            for c in {o["concept"] for o in f["objects"]}:
                counts[c] += 1
    for c in cfg.concepts:
        assert counts[c] / m["frames"] == pytest.approx(m["concept_frame_fraction"][c], abs=1e-3)
        assert lo <= counts[c] / m["frames"] <= hi, (c, counts[c] / m["frames"])
    hlo, hhi = RANGES["concept_height_fraction"]
    seen_lo, seen_hi = m["concept_height_fraction"]
    assert hlo <= seen_lo and seen_hi <= hhi and seen_hi / seen_lo >= 3.0
    for key in ("distractors_per_frame", "frames_with_distractor", "concept_in_center_square"):
        assert RANGES[key][0] <= m[key] <= RANGES[key][1], (key, m[key])
    assert m["frames_with_two_concepts"] > 0.02 and m["labelled_partly_hidden"] > 0.05


@pytest.mark.slow
def test_same_seed_same_corpus_on_ray_and_s3(synth_corpus, ray_local, s3_server, tmp_path):
    """Ray tasks writing to S3 give the same label bytes and decoded frames as the in-process run."""
    cfg, _, out = synth_corpus
    fs, _ = storage.url_to_fs("s3://synth-bucket")
    fs.mkdir("synth-bucket")
    remote = SynthConfig(out="s3://synth-bucket/corpus", **{**BASE, "videos": 2})
    result = run(remote)
    assert not result.failed and result.frames == 2 * cfg.frames
    for i in range(2):
        name = f"clip-{i:04d}"
        assert (
            fs.cat(f"synth-bucket/corpus/{name}.mp4{schema.LABELS_SUFFIX}")
            == (out / f"{name}.mp4{schema.LABELS_SUFFIX}").read_bytes()
        )
        fs.get(f"synth-bucket/corpus/{name}.mp4", str(tmp_path / f"{name}.mp4"))
        a, b = decoded(tmp_path / f"{name}.mp4"), decoded(out / f"{name}.mp4")
        assert len(a) == len(b) == cfg.frames and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert json.loads(fs.cat("synth-bucket/corpus/corpus.json"))["measured"]["frames"] == 2 * cfg.frames


def test_different_seed_differs(synth_corpus, tmp_path):
    _, _, out = synth_corpus
    cfg = SynthConfig(out=str(tmp_path), workers=0, **{**BASE, "videos": 1, "seed": 22})
    run(cfg)
    assert (tmp_path / f"clip-0000.mp4{schema.LABELS_SUFFIX}").read_bytes() != (
        out / f"clip-0000.mp4{schema.LABELS_SUFFIX}"
    ).read_bytes()
    a, b = decoded(tmp_path / "clip-0000.mp4"), decoded(out / "clip-0000.mp4")
    assert np.abs(a[0].astype(int) - b[0].astype(int)).mean() > 10


@pytest.mark.slow
def test_cli_writes_corpus_and_preview(tmp_path):
    conf = tmp_path / "synth.yaml"
    conf.write_text("workers: 0\nseconds: 2\n")
    out, png = tmp_path / "out", tmp_path / "sheet" / "preview.png"
    proc = run_cli(
        "synth",
        out,
        "--videos",
        "2",
        "--seconds",
        "1",
        "--fps",
        "12",
        "--size",
        "144",
        "--seed",
        "3",
        "--preview",
        png,
        "--config",
        conf,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "wrote 2 clips, 24 frames" in proc.stdout
    doc = json.loads((out / "corpus.json").read_text())
    assert (doc["width"], doc["height"], doc["frames_per_clip"], doc["config"]["seed"]) == (256, 144, 12, 3)
    with av.open(str(out / "clip-0001.mp4")) as c:
        assert (c.streams.video[0].width, c.streams.video[0].height) == (256, 144)
    img = Image.open(png)
    cfg = SynthConfig(out=str(out), size=144)
    assert img.format == "PNG" and img.size == sheet_size(cfg)
    assert np.asarray(img).std() > 20  # a picture, not a blank canvas


@pytest.mark.slow
@pytest.mark.parametrize(("flags", "message"), [(["--size", "145"], "even"), (["--videos", "0"], "videos")])
def test_cli_rejects_bad_flags(tmp_path, flags, message):
    proc = run_cli("synth", tmp_path / "out", *flags, timeout=120)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def crop_labels(objects: list[dict], width: int, height: int) -> list[str]:
    """Concepts that stay visible in ingest's centre square crop, by docs/outputs.md's rule (visible x the
    share of the box inside the crop), computed here in source pixels."""
    side = min(width, height)
    cx0, cy0 = (width - side) / 2, (height - side) / 2
    keep = set()
    for o in objects:
        x0, y0, x1, y1 = o["box"]
        inside = max(0, min(x1, cx0 + side) - max(x0, cx0)) * max(0, min(y1, cy0 + side) - max(y0, cy0))
        if o["visible"] * inside / ((x1 - x0) * (y1 - y0)) >= schema.VISIBLE_MIN:
            keep.add(o["concept"])
    return sorted(keep)


def test_ingest_carries_the_labels_into_the_dataset(synth_corpus, tmp_path):
    from unitscope.pipeline.config import IngestConfig
    from unitscope.pipeline.dataset import Dataset
    from unitscope.pipeline.ingest import run as ingest

    cfg, _, out = synth_corpus
    result = ingest(
        IngestConfig(src=str(out), out=str(tmp_path / "ds"), fps=5, size=64, workers=0, progress=False)
    )
    assert result.videos_ok == cfg.videos and sorted(result.concepts) == sorted(cfg.concepts)
    ds = Dataset(str(tmp_path / "ds"))
    videos = [r for r in ds.videos().to_pylist() if r["status"] == "ok"]  # corpus.json is listed as skipped
    assert all(r["has_labels"] for r in videos)
    clip_of = {r["video_id"]: r["uri"].rsplit("/", 1)[-1][: -len(".mp4")] for r in videos}
    sidecars = {
        name: {
            f["frame"]: f["objects"]
            for f in json.loads((out / f"{name}.mp4{schema.LABELS_SUFFIX}").read_text())["frames"]
        }
        for name in clip_of.values()
    }
    rows = ds.frames().to_pylist()
    assert len(rows) == cfg.videos * 5 * cfg.seconds
    for r in rows:
        objects = sidecars[clip_of[r["video_id"]]][r["frame_idx"]]
        assert r["labels"] == crop_labels(objects, cfg.width, cfg.height), r
    seen = [c for r in rows for c in r["labels"]]
    assert all(seen.count(c) >= 2 for c in cfg.concepts), seen


def test_a_corpus_made_with_the_same_settings_is_kept_and_another_replaced(tmp_path):
    from unitscope.pipeline.synth.corpus import holds

    small = {"videos": 3, "seconds": 1.0, "fps": 6, "size": 64, "seed": 5}
    cfg = SynthConfig(out=str(tmp_path), workers=0, **small)
    assert not holds(cfg)
    first = run(cfg)
    made = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    # the same settings (run elsewhere: workers do not change the bytes): nothing rendered, nothing written
    assert holds(cfg.model_copy(update={"workers": 2}))
    again = run(cfg)
    assert again.reused and not first.reused and again.frames == first.frames and again.stats == first.stats
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == made
    # a clip gone: not held any more
    (tmp_path / "clip-0002.mp4").unlink()
    assert not holds(cfg)
    # other settings: the earlier corpus' clips are removed, so none passes for one of the new corpus
    fewer = SynthConfig(out=str(tmp_path), workers=0, **{**small, "videos": 2, "seed": 6})
    assert not run(fewer).reused and holds(fewer)
    assert sorted(p.name for p in tmp_path.glob("*.mp4")) == ["clip-0000.mp4", "clip-0001.mp4"]
    assert not (tmp_path / f"clip-0002.mp4{schema.LABELS_SUFFIX}").exists()
