"""Frame keys as 12 packed bytes instead of 24 characters, with NumPy only (no Python object per key).

An ingest key is `<16 hex digits>-<7 digits>` (`schema.frame_key`): the video id's 8 bytes and the frame
index as a big-endian 32-bit integer sort in the same order as the text, so a sorted array of packed keys
is searched by bisection as the text would be. Keys of another shape are not packed (None / -1).
"""

from __future__ import annotations

import numpy as np

TEXT = 24  # characters of a key
PACKED = np.dtype("S12")
_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)
_TENS = 10 ** np.arange(6, -1, -1, dtype=np.uint32)


def packable(text: np.ndarray) -> np.ndarray:
    """Per key (fixed-width bytes), whether it has the ingest's shape."""
    if text.dtype.itemsize != TEXT:
        return np.zeros(len(text), bool)
    raw = text.view(np.uint8).reshape(-1, TEXT)
    hexes, dash, digits = raw[:, :16], raw[:, 16], raw[:, 17:]
    is_hex = ((hexes >= ord("0")) & (hexes <= ord("9"))) | ((hexes >= ord("a")) & (hexes <= ord("f")))
    is_digit = (digits >= ord("0")) & (digits <= ord("9"))
    return is_hex.all(axis=1) & (dash == ord("-")) & is_digit.all(axis=1)


def pack(text: np.ndarray) -> np.ndarray:
    """Keys of the ingest's shape (check with `packable`) as packed 12-byte values, in the same order."""
    raw = text.view(np.uint8).reshape(-1, TEXT)
    nib = raw[:, :16].astype(np.uint8)
    nib = np.where(nib <= ord("9"), nib - ord("0"), nib - ord("a") + 10).astype(np.uint8)
    video = (nib[:, 0::2] << 4) | nib[:, 1::2]
    frame = ((raw[:, 17:] - ord("0")).astype(np.uint32) @ _TENS).astype(">u4")
    out = np.empty((len(raw), 12), np.uint8)
    out[:, :8] = video
    out[:, 8:] = frame.view(np.uint8).reshape(-1, 4)
    return out.view(PACKED).reshape(-1)


def unpack(packed: np.ndarray) -> np.ndarray:
    """Packed keys back to their 24-character fixed-width bytes."""
    raw = packed.view(np.uint8).reshape(-1, 12)
    out = np.empty((len(raw), TEXT), np.uint8)
    out[:, 0:16:2] = _HEX[raw[:, :8] >> 4]
    out[:, 1:16:2] = _HEX[raw[:, :8] & 15]
    out[:, 16] = ord("-")
    frame = raw[:, 8:].copy().view(">u4").reshape(-1).astype(np.uint32)
    out[:, 17:] = (frame[:, None] // _TENS % 10 + ord("0")).astype(np.uint8)
    return out.view(f"S{TEXT}").reshape(-1)
