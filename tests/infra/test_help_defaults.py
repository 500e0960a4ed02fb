"""The defaults `--help` shows are the config models' defaults: every `(default N)` of a flag that maps to
a config field is checked against the field, so a default changed in one place fails here."""

from __future__ import annotations

import argparse
import re

import pytest
from unitscope.infra.cli import build_parser
from unitscope.infra.demo import DemoConfig
from unitscope.pipeline.config import IngestConfig
from unitscope.pipeline.synth.config import SynthConfig
from unitscope.probe.config import ProbeConfig
from unitscope.train.config import TrainConfig

MODELS = {"ingest": IngestConfig, "train": TrainConfig, "probe": ProbeConfig, "synth": SynthConfig,
          "demo": DemoConfig}  # fmt: skip


def _subparser(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[name]


def _shown(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _flags(command: str):
    model = MODELS[command]
    for action in _subparser(command)._actions:
        if action.dest in model.model_fields and action.help and "default" in action.help:
            yield model, action


@pytest.mark.parametrize("command", sorted(MODELS))
def test_help_defaults_are_the_models(command):
    checked = 0
    for model, action in _flags(command):
        for m in re.finditer(r"\bdefault:? (-?\d[\d.]*|[a-z][\w-]*)\b", action.help):
            token, want = m.group(1), model.model_fields[action.dest].default
            if want is None or (token[0].isalpha() and token not in (action.choices or ())):
                continue
            if action.dest == "shard_bytes":
                want = f"{want // 2**20}"
            assert token == _shown(want), f"{command} --{action.dest}: help says {token}, config says {want}"
            checked += 1
    assert checked or command == "demo"
