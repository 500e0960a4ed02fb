"""The CLI layer: subcommands are listed and bad config files get clear errors."""

import argparse

import pytest
from pydantic import BaseModel, ConfigDict
from unitscope.infra import options

from tests.helpers import run_cli
from unitscope.core.errors import ConfigError


class _Cfg(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: int = 128
    fps: float = 1.0


@pytest.mark.slow
def test_help_lists_every_command_module_once():
    import pkgutil
    import re

    import unitscope.infra.commands

    proc = run_cli("--help", check=True)
    listed = re.findall(r"^    (\w+) ", proc.stdout, re.M)  # the command column, not words in the help text
    modules = [m.name for m in pkgutil.iter_modules(unitscope.infra.commands.__path__) if m.name[0] != "_"]
    assert sorted(listed) == sorted(modules) and listed[:3] == ["demo", "synth", "ingest"], proc.stdout


def test_build_config_precedence(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("size: 64\nfps: 2\n")
    args = argparse.Namespace(config=str(f), size=32, fps=None)
    cfg = options.build_config(_Cfg, args)
    assert (cfg.size, cfg.fps) == (32, 2.0)


def test_unknown_config_key_is_a_clear_error(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("sise: 64\n")
    with pytest.raises(ConfigError, match="sise: unknown option"):
        options.build_config(_Cfg, argparse.Namespace(config=str(f)))


@pytest.mark.parametrize("text", ["size: [\n", "- 1\n- 2\n"])
def test_malformed_config_file(tmp_path, text):
    f = tmp_path / "c.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=r"c\.yaml"):
        options.build_config(_Cfg, argparse.Namespace(config=str(f)))


@pytest.mark.parametrize(
    "argv, usage, suggestion",
    [
        (["ingest", "SRC", "OUT", "--fsp", "2"], "usage: unitscope ingest", "--fsp (did you mean --fps?)"),
        (["train", "DS", "RUN", "--stesp=5"], "usage: unitscope train", "--stesp=5 (did you mean --steps?)"),
        (["query", "RUN", "concept", "face", "--topp", "3"], "usage: unitscope query RUN concept",
         "--topp (did you mean --top?)"),
    ],
)  # fmt: skip
@pytest.mark.slow
def test_a_mistyped_flag_shows_the_subcommands_usage_and_the_closest_flag(argv, usage, suggestion):
    proc = run_cli(*argv)
    assert proc.returncode == 2
    assert usage in proc.stderr and suggestion in proc.stderr, proc.stderr
    assert "COMMAND ..." not in proc.stderr  # not the top-level usage
