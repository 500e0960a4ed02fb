"""Finding a registry's entries: the modules of a package, imported when the registry is first asked.

Registries (objectives, encoder kinds) name their package instead of importing its modules, so a module
that registers itself may import its registry back without an import cycle."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def submodules(package: str) -> list[ModuleType]:
    """Every module of `package`, imported, in name order."""
    path = importlib.import_module(package).__path__
    return [importlib.import_module(f"{package}.{m.name}") for m in pkgutil.iter_modules(path)]
