"""Image queries: decode an upload safely, run the run's encoder, z-score every unit against its
statistics over the dataset, and embed the image for the frame index."""

from __future__ import annotations

import io
import threading
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError
from unitscope.probe.query.errors import BadQuery

# Larger declared sizes are refused before a single pixel is decoded (decompression bombs).
MAX_PIXELS = 40_000_000


def decode_image(data: bytes, max_pixels: int = MAX_PIXELS, name: str = "the upload") -> Image.Image:
    """RGB image from encoded bytes; BadQuery when it is not an image or declares too many pixels.
    `name` says what the bytes are in the message (the CLI passes the file's path)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            if w * h > max_pixels:
                raise BadQuery(f"{name} declares {w}x{h} pixels, more than the limit of {max_pixels}")
            img.load()
    except BadQuery:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadQuery(f"{name} declares more than the limit of {max_pixels} pixels") from None
    except UnidentifiedImageError:
        raise BadQuery(f"{name} is not an image Pillow can decode (JPEG, PNG, WebP, ...)") from None
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt data inside a known format
        raise BadQuery(f"{name} cannot be decoded as an image: {exc}") from None
    return img.convert("RGB")


class ImageEncoder:
    """The run's trained encoder, loaded on first use, applied exactly as the probe applied it: the same
    preprocessing, the same spatial pooling of each unit, the same embedding as the frame index."""

    def __init__(self, run_url: str, layers: list[str], pool: str, mean: np.ndarray, std: np.ndarray):
        self.run_url = run_url
        self.layers = layers
        self.pool = pool
        self.mean = mean.astype(np.float32)
        # A unit constant over the dataset (std 0) says nothing about an image: its z-score is 0.
        self.std = np.where(std > 0, std, np.inf).astype(np.float32)
        self._lock = threading.Lock()

    def encode(self, images: list[Image.Image]) -> tuple[np.ndarray, np.ndarray]:
        """((N, units) z-score of every unit's pooled response, (N, D) frame-index embeddings).

        One forward pass gives both (`encode_batch`), as in the probe; the z-scores are of the float16
        responses it stores."""
        from unitscope.probe.encoders import default_device, encode_batch, open_encoder

        with self._lock:  # one batch at a time: torch already uses every core
            enc = open_encoder(self.run_url, "trained", 0, default_device())
            acts, _, emb = encode_batch(enc, enc.preprocess(images), self.layers, self.pool, embed=True)
        z = acts.astype(np.float32)
        return (z - self.mean) / self.std, emb
