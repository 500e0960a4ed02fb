"""The objectives, found by name: every module of this package that defines `OBJECTIVE = Objective(...)`
is one. Config validation, defaults, the CLI's choices and its help all read this registry, so adding an
objective is adding a module (and its test); docs/architecture.md walks through one."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from unitscope.core import discovery


@dataclass(frozen=True)
class Objective:
    """An unsupervised objective and the defaults it trains with."""

    name: str
    help: str  # one line, shown by `unitscope train --help`
    arch: str  # the encoder it trains when --arch is not given
    width: int  # default --width
    steps: int  # default --steps
    view_fraction: float = 1.0  # default view_size / input_size
    needs_pairs: bool = False  # batches of two views: nearby frames of one video
    # The loss module stepped over batches: build(config, encoder) -> nn.Module whose forward(encoder,
    # views) returns {"loss": ..., logged terms...}.
    build: Callable[[Any, Any], Any] | None = None
    # Or a function that fits the encoder itself, `module:function` with train_worker's signature
    # (named, not imported: it may import this package back).
    fit: str | None = None
    archs: tuple[str, ...] | None = (
        None  # the only encoders it can train (None: every encoder a loss can train)
    )


_REGISTRY: dict[str, Objective] = {}
_loaded = False


def register(objective: Objective) -> Objective:
    """Add an objective (the modules of this package are added on first use; a test or a plugin may add
    its own)."""
    _REGISTRY[objective.name] = objective
    return objective


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in discovery.submodules(__package__):
        found = getattr(module, "OBJECTIVE", None)
        if isinstance(found, Objective):
            _REGISTRY.setdefault(found.name, found)


def names() -> list[str]:
    _load()
    return list(_REGISTRY)


def get(name: str) -> Objective:
    _load()
    if name not in _REGISTRY:
        raise ValueError(f"unknown objective {name!r}: choose one of {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def fit_function(objective: Objective) -> Callable | None:
    """The function named by `objective.fit`, imported now."""
    if objective.fit is None:
        return None
    module, _, attr = objective.fit.partition(":")
    return getattr(importlib.import_module(module), attr)
