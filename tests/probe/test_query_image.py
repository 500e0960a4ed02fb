"""Image queries against the run's real encoder: unit z-scores recomputed independently, nearest frames."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from probe.query import RunQueries
from probe.query.image import decode_image
from tests.probe.query_run import small_run


@pytest.fixture(scope="module")
def run(tmp_path_factory, ray_local):
    return small_run(tmp_path_factory)


@pytest.fixture(scope="module")
def q(run):
    return RunQueries(str(run.run))


def _expected_z(run, images) -> tuple[list[str], np.ndarray]:
    """Every unit's z-score, computed here from the encoder file and units.parquet alone."""
    from train.model_io import load_encoder

    enc = load_encoder(str(run.run))
    units = {u["unit"]: u for u in run.units()}
    names, cols = [], []
    with torch.inference_mode():
        feats = enc.features(enc.preprocess(images))
    for layer, f in feats.items():
        # max-pooled, rounded to float16 as the probe stores activations
        pooled = f.float().amax(dim=(2, 3)).numpy().astype(np.float16).astype(np.float32)
        for c in range(pooled.shape[1]):
            u = units[f"{layer}/{c}"]
            names.append(u["unit"])
            # a unit constant over the dataset (std 0) tells nothing: z = 0
            cols.append((pooled[:, c] - u["mean"]) / u["std"] if u["std"] > 0 else np.zeros(len(pooled)))
    return names, np.stack(cols, axis=1)


def test_frames_find_themselves_and_their_units(run, q):
    rows = run.frames()[::9][:4]
    blobs = [q.frame_jpeg(r["key"]) for r in rows]
    answers = q.images(blobs, top=5)
    names, z = _expected_z(run, [decode_image(b) for b in blobs])
    for i, (row, got) in enumerate(zip(rows, answers, strict=True)):
        best = got["neighbors"][0]
        assert best["score"] == pytest.approx(1.0, abs=1e-3)
        assert row["key"] in [n["key"] for n in got["neighbors"] if n["score"] > 0.999]
        order = np.argsort(-z[i], kind="stable")[:5]
        assert [u["unit"] for u in got["units"]] == [names[j] for j in order]
        assert [u["z"] for u in got["units"]] == pytest.approx(z[i, order], rel=1e-3, abs=1e-3)
        for u in got["units"]:
            assert {c["concept"] for c in u["concepts"]} == {
                r["concept"] for r in run.catalog() if r["unit"] == u["unit"]
            }


def test_one_pass_equals_the_probes_two(run, q):
    """The query's single forward pass gives the probe's pooled units and frame embeddings."""
    from probe.encoders import embeddings, open_encoder, pooled_units

    images = [decode_image(q.frame_jpeg(r["key"])) for r in run.frames()[:6]]
    z, emb = q.encoder.encode(images)
    enc = open_encoder(str(run.run), "trained", 0, "cpu")
    x = enc.preprocess(images)
    acts, _ = pooled_units(enc, x, q.catalogue.layers, q.catalogue.pool)
    np.testing.assert_allclose(emb, embeddings(enc, x), rtol=1e-5, atol=1e-6)
    expect = (acts.astype(np.float32) - q.encoder.mean) / q.encoder.std
    np.testing.assert_allclose(z, expect, rtol=1e-5, atol=1e-5)
