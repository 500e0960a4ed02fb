"""The encoder family and the encoder file pair the probe loads."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from unitscope.train.encoder import EncoderSpec, build_encoder, preprocess
from unitscope.train.model_io import load_encoder, save_encoder

from tests.helpers import ROOT, cli_env
from unitscope.core.errors import InputError


@pytest.mark.parametrize("arch", ["conv4", "conv6", "le3"])
def test_features_name_every_layer_and_embed_pools_the_last(arch):
    spec = EncoderSpec.create(arch, 8, None, 64)
    enc = build_encoder(spec, seed=1).eval()
    x = torch.randn(2, 3, 64, 64)
    feats = enc.features(x)
    assert list(feats) == enc.layer_names == [f"conv{i + 1}" for i in range(spec.depth)]
    for name, ch in zip(enc.layer_names, spec.channels, strict=True):
        assert feats[name].shape[:2] == (2, ch)
    assert torch.allclose(enc.embed(x), feats[enc.layer_names[-1]].amax(dim=(2, 3)))


def test_build_encoder_is_seeded():
    spec = EncoderSpec.create("conv4", 8, None, 32)
    a, b, c = build_encoder(spec, 3), build_encoder(spec, 3), build_encoder(spec, 4)
    wa, wb, wc = (m.blocks["conv1"].conv.weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)


def test_preprocess_accepts_numpy_and_pil_alike():
    spec = EncoderSpec.create("conv4", 8, None, 32)
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    x = preprocess(imgs, spec)
    assert x.shape == (2, 3, 32, 32)
    assert torch.allclose(x, preprocess([Image.fromarray(i) for i in imgs], spec))
    enc = build_encoder(spec, 0)
    assert torch.allclose(x, enc.normalize(torch.from_numpy(imgs).permute(0, 3, 1, 2)))
    assert preprocess(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8), spec).shape == (1, 3, 32, 32)
    with pytest.raises(ValueError, match="uint8"):
        preprocess(imgs.astype(np.float32), spec)


LOAD_SCRIPT = """
import sys, torch
from unitscope.train.model_io import load_encoder
x = torch.load(sys.argv[2], weights_only=True)
enc = load_encoder(sys.argv[1])
torch.save({k: v for k, v in enc.features(x).items()}, sys.argv[3])
"""


@pytest.mark.slow
def test_saved_encoder_loads_in_a_fresh_process_with_identical_activations(tmp_path):
    spec = EncoderSpec.create("conv4", 8, None, 32)
    enc = build_encoder(spec, 5)
    with torch.no_grad():  # move BatchNorm statistics away from their defaults
        enc.train()
        enc.features(torch.randn(16, 3, 32, 32) * 3 + 1)
    enc.eval()
    run = tmp_path / "run"
    save_encoder(enc, str(run))
    state = torch.load(run / "encoder.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    x = torch.randn(4, 3, 32, 32)
    torch.save(x, tmp_path / "x.pt")
    subprocess.run([sys.executable, "-c", LOAD_SCRIPT, str(run), str(tmp_path / "x.pt"), str(tmp_path / "y.pt")],
                   check=True, env=cli_env(), cwd=ROOT, timeout=120)  # fmt: skip
    theirs = torch.load(tmp_path / "y.pt", weights_only=True)
    with torch.no_grad():
        ours = enc.features(x)
    for name in enc.layer_names:
        assert torch.equal(ours[name], theirs[name])
    assert load_encoder(str(run)).training is False


def test_load_encoder_from_a_run_without_one_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="has no encoder"):
        load_encoder(str(tmp_path))


@pytest.mark.slow
def test_encoder_round_trips_through_s3(s3_server):
    import fsspec

    fs = fsspec.filesystem("s3")
    fs.mkdir("train-enc")
    spec = EncoderSpec.create("le3", 4, None, 32)
    enc = build_encoder(spec, 2).eval()
    save_encoder(enc, "s3://train-enc/run")
    back = load_encoder("s3://train-enc/run")
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(enc.embed(x), back.embed(x))
