"""The install layout: every stage folder installs under the one `unitscope` namespace, none at top level."""

from __future__ import annotations

import tomllib

from tests.helpers import ROOT

STAGES = ("pipeline", "train", "probe", "infra")


def test_every_package_folder_is_listed_under_the_unitscope_namespace():
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert tool["package-dir"] == {"unitscope": "unitscope", **{f"unitscope.{s}": s for s in STAGES}}
    on_disk = {"unitscope." + ".".join(p.parent.relative_to(ROOT).parts) for s in STAGES
               for p in (ROOT / s).rglob("__init__.py")}  # fmt: skip
    on_disk |= {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "unitscope").rglob("__init__.py")}
    assert set(tool["packages"]) == on_disk
    assert all(p == "unitscope" or p.startswith("unitscope.") for p in tool["packages"])


def test_the_cli_entry_point_is_in_the_namespace():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"unitscope": "unitscope.infra.cli:main"}
