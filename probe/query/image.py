"""Image queries: decode an upload safely, run the run's encoder, z-score every unit against its
statistics over the dataset, and embed the image for the frame index."""

from __future__ import annotations

import io
import threading
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

from probe.query.errors import BadQuery

# Larger declared sizes are refused before a single pixel is decoded (decompression bombs).
MAX_PIXELS = 40_000_000


def decode_image(data: bytes, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """RGB image from encoded bytes; BadQuery when it is not an image or declares too many pixels."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            if w * h > max_pixels:
                raise BadQuery(f"image declares {w}x{h} pixels, more than the limit of {max_pixels}")
            img.load()
    except BadQuery:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadQuery(f"image declares more than the limit of {max_pixels} pixels") from None
    except UnidentifiedImageError:
        raise BadQuery("the upload is not an image Pillow can decode (JPEG, PNG, WebP, ...)") from None
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt data inside a known format
        raise BadQuery(f"the image cannot be decoded: {exc}") from None
    return img.convert("RGB")


class ImageEncoder:
    """The run's encoder, loaded once on first use: unit z-scores and embeddings of a batch of images."""

    def __init__(self, run_url: str, mean: dict[str, np.ndarray], std: dict[str, np.ndarray]):
        self.run_url = run_url
        self.mean = mean
        self.std = std
        self._encoder = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._encoder is None:
                from train.encoder import load_encoder

                self._encoder = load_encoder(self.run_url)
        return self._encoder

    def encode(self, images: list[Image.Image]) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """({layer: (N, C) z-scores of each unit}, (N, D) embeddings) for a batch of images."""
        import torch

        enc = self._load()
        with torch.inference_mode():
            x = enc.preprocess(images)
            feats = enc.features(x)
            emb = enc.embed(x)
        z = {}
        for layer, mean in self.mean.items():
            act = feats[layer].float().mean(dim=(2, 3)).cpu().numpy()
            z[layer] = (act - mean) / self.std[layer]
        return z, emb.float().cpu().numpy()
