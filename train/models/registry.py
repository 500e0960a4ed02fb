"""The encoder kinds, found by name: every module of this package that defines `KINDS` (a list of
`EncoderKind`) adds them. `EncoderSpec.create`, `build_encoder` and the train config's arch choices read
this registry, so a new kind of encoder is one module (and its test)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from unitscope.core import discovery


@dataclass(frozen=True)
class EncoderKind:
    block: str  # the name `EncoderSpec.block` records
    archs: dict[str, int]  # arch name -> default depth
    build: Callable[[Any, int], Any]  # (EncoderSpec, seed) -> a module with random weights from seed
    fitted: bool = False  # fitted in closed form by an objective of its own, never stepped by a loss


_KINDS: dict[str, EncoderKind] = {}
_loaded = False


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in discovery.submodules(__package__):
        for kind in getattr(module, "KINDS", ()):
            _KINDS.setdefault(kind.block, kind)


def kind(block: str) -> EncoderKind:
    _load()
    if block not in _KINDS:
        raise ValueError(f"unknown encoder block {block!r}: one of {', '.join(_KINDS)}")
    return _KINDS[block]


def archs(fitted: bool | None = None) -> dict[str, tuple[str, int]]:
    """arch name -> (block, default depth), for every kind (or only the kinds that are, or are not,
    `fitted`)."""
    _load()
    return {arch: (k.block, depth) for k in _KINDS.values() for arch, depth in k.archs.items()
            if fitted is None or k.fitted == fitted}  # fmt: skip
