"""The container image and cluster configs, checked statically (Docker cannot run here): one Ray
version everywhere (pyproject, Dockerfile, k8s manifests, ray up config), a pinned base image, a
non-root user, no secrets baked in."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import ray
import yaml
from packaging.requirements import Requirement

from tests.helpers import ROOT
from tests.infra.kustomize import render

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

DOCKERFILE = ROOT / "infra" / "Dockerfile"
SECRETISH = re.compile(r"KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL", re.I)


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    lines, current = [], ""
    for raw in path.read_text().splitlines():
        if raw.lstrip().startswith("#") and not current:
            continue
        current += raw.rstrip("\\").strip() + " "
        if not raw.rstrip().endswith("\\"):
            if current.strip():
                lines.append(current.strip())
            current = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def base_image() -> str:
    """The FROM image with the defaults of the ARGs declared before it substituted."""
    args = {}
    for op, rest in instructions(DOCKERFILE):
        if op == "ARG":
            name, _, default = rest.partition("=")
            args[name] = default
        if op == "FROM":
            return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m.group(1) or m.group(2)], rest.split()[0])
    raise AssertionError("no FROM in the Dockerfile")


def ray_requirement() -> Requirement:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return next(Requirement(d) for d in deps if Requirement(d).name == "ray")


def image_ray_versions() -> dict[str, str]:
    """Every place that names a Ray version: Dockerfile, k8s images and rayVersion, ray up images."""
    found = {
        "Dockerfile base image": re.fullmatch(r"rayproject/ray:([\d.]+)-py311-cpu", base_image()).group(1)
    }
    for overlay in ("base", "overlays/local", "overlays/cloud"):
        for obj in render(ROOT / "k8s" / overlay):
            text = json.dumps(obj)
            name = f"{overlay} {obj['kind']}/{obj['metadata']['name']}"
            for i, version in enumerate(re.findall(r'"rayVersion": "([^"]+)"', text)):
                found[f"{name} rayVersion #{i}"] = version
            for i, image in enumerate(re.findall(r'"image": "([^"]*unitscope[^"]*)"', text)):
                found[f"{name} image #{i} {image}"] = re.search(r":ray([\d.]+)-", image).group(1)
    cluster = yaml.safe_load((ROOT / "infra" / "cluster.yaml").read_text())
    images = re.findall(r"'?(\S*unitscope:ray[\d.]+-\w+)", yaml.safe_dump(cluster))
    assert images, "infra/cluster.yaml names no unitscope image"
    for image in images:
        found[f"cluster.yaml {image}"] = re.search(r":ray([\d.]+)-", image).group(1)
    return found


def test_one_ray_version_everywhere():
    requirement = ray_requirement()
    versions = image_ray_versions()
    assert len(versions) > 10
    assert set(versions.values()) == {versions["Dockerfile base image"]}, versions
    assert requirement.specifier.contains(versions["Dockerfile base image"]), (str(requirement), versions)
    assert requirement.specifier.contains(ray.__version__), "the installed Ray is outside pyproject's range"


def test_base_image_is_pinned_and_gpu_variant_is_a_build_arg():
    assert re.fullmatch(r"rayproject/ray:\d+\.\d+\.\d+-py311-cpu", base_image())
    ops = instructions(DOCKERFILE)
    assert ("ARG", "VARIANT=cpu") in ops
    assert any(op == "RUN" and "gpu" in rest and "download.pytorch.org/whl/cpu" in rest for op, rest in ops)


def test_image_runs_as_a_non_root_user():
    users = [rest.split(":")[0] for op, rest in instructions(DOCKERFILE) if op == "USER"]
    assert users and users[-1] not in ("root", "0")


def test_no_secrets_in_the_image():
    for op, rest in instructions(DOCKERFILE):
        if op in ("ENV", "ARG"):
            names = [part.split("=")[0] for part in rest.split()]
            assert not any(SECRETISH.search(n) for n in names), f"{op} {rest}"
        if op in ("COPY", "ADD"):
            sources = [a for a in rest.split() if not a.startswith("--")][:-1]
            assert "." not in sources, "copy named paths, not the whole build context"
    ignore = (DOCKERFILE.parent / "Dockerfile.dockerignore").read_text().split()
    for pattern in ("**/.git", "**/.venv", "**/auth_token", "**/.env"):
        assert pattern in ignore


def test_ray_up_config_matches_rays_schema():
    schema_file = Path(ray.__file__).parent / "autoscaler" / "ray-schema.json"
    if not schema_file.is_file():
        pytest.skip("this Ray has no cluster launcher schema")
    config = yaml.safe_load((ROOT / "infra" / "cluster.yaml").read_text())
    jsonschema.validate(config, json.loads(schema_file.read_text()))
    assert "RAY_AUTH_MODE=token" in " ".join(config["head_start_ray_commands"])
