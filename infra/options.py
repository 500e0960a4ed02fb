"""Typed stage configs from a config file (`--config FILE`, YAML or JSON) plus command-line flags."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from unitscope.core.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def add_common(parser: argparse.ArgumentParser) -> None:
    """Options every stage takes: the Ray cluster and a config file."""
    parser.add_argument(
        "--address",
        default=None,
        help="Ray cluster to attach to (default: $RAY_ADDRESS, else start Ray on this machine)",
    )
    parser.add_argument(
        "--config", default=None, metavar="FILE", help="YAML or JSON config; flags given override it"
    )


def add_max_bad_frames(parser: argparse.ArgumentParser) -> None:
    """`--max-bad-frames F`: the share of frames a stage may find unreadable and go on (with a warning)."""
    parser.add_argument(
        "--max-bad-frames",
        type=float,
        default=None,
        metavar="F",
        help="share of frames that damaged shards may cost with a warning (default 0.001 = 0.1%%); "
        "above it the stage exits 1 naming the shards and the repair",
    )


def add_profile(parser: argparse.ArgumentParser, what: str) -> None:
    """`--profile cpu|gpu|auto` (train/profiles.py); `what` says what the gpu profile sets."""
    parser.add_argument(
        "--profile",
        default=None,
        choices=["cpu", "gpu", "auto"],
        help=f"scale profile: gpu = {what} (train/profiles.py); auto = gpu where CUDA is present; "
        "flags and config values given win",
    )


def epilog_when_shown(parser: argparse.ArgumentParser, make: Callable[[], str]) -> None:
    """Give `parser` the epilog `make()` returns, made only when its help is shown: a registry's listing
    (objectives, concept kinds) imports what every other command need not (torch, numpy)."""
    plain = parser.format_help
    parser.formatter_class = argparse.RawDescriptionHelpFormatter

    def format_help() -> str:
        parser.epilog = make()
        return plain()

    parser.format_help = format_help  # type: ignore[method-assign]


def default(model: type[BaseModel], name: str) -> Any:
    """The default of `model`'s field `name`: what --help shows, so it has one source."""
    return model.model_fields[name].default


def read_config_file(path: str | None) -> dict[str, Any]:
    """The mapping in a YAML/JSON config file, or {} without one."""
    if not path:
        return {}
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(
            f"config file {path} is not valid {'JSON' if p.suffix == '.json' else 'YAML'}: {exc}"
        ) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {path} must hold a mapping of option names to values, not {type(data).__name__}"
        )
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def build_config(model: type[M], args: argparse.Namespace, **explicit: Any) -> M:
    """Config = model defaults < config file < flags that were given (argparse default None = not given).

    `explicit` holds values the command computes itself (positional arguments, renamed flags).
    Unknown keys and bad values raise ConfigError naming the key and what was expected.
    """
    values = read_config_file(getattr(args, "config", None))
    for name in model.model_fields:
        value = getattr(args, name, None)
        if value is not None:
            values[name] = value
    values.update({k: v for k, v in explicit.items() if v is not None})
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "config"
            msg = (
                "unknown option (check the spelling; see --help)"
                if err["type"] == "extra_forbidden"
                else err["msg"]
            )
            problems.append(f"{where}: {msg}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from exc
