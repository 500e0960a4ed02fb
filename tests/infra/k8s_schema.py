"""Offline validation of Kubernetes objects: built-in kinds against the Kubernetes OpenAPI schemas
(`kubernetes-validate`, strict: unknown fields rejected), KubeRay kinds against the openAPIV3Schema of
the published CRDs, tightened the way the API server prunes: an object schema rejects fields it does
not declare unless it is marked `x-kubernetes-preserve-unknown-fields`.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import jsonschema
import kubernetes_validate.utils as kv
import yaml

CRD_FILES = {
    "RayCluster": "ray.io_rayclusters.yaml",
    "RayJob": "ray.io_rayjobs.yaml",
    "RayService": "ray.io_rayservices.yaml",
}


class InvalidManifest(Exception):
    """An object does not conform to its schema (the message names the object and the field)."""


def closed(schema: dict) -> dict:
    """A copy of an openAPIV3 schema in which every object schema rejects undeclared fields."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            if (
                "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)

    walk(schema)
    return schema


@functools.cache
def crd_validator(schema_dir: Path, kind: str, version: str) -> jsonschema.Draft7Validator:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the CRDs are megabytes of YAML
    crd = yaml.load((schema_dir / CRD_FILES[kind]).read_text(), Loader=loader)
    for v in crd["spec"]["versions"]:
        if v["name"] == version:
            return jsonschema.Draft7Validator(closed(v["schema"]["openAPIV3Schema"]))
    raise InvalidManifest(f"{kind}: the CRD has no version {version}")


def validate(obj: dict, schema_dir: Path | None) -> None:
    """Raise InvalidManifest unless `obj` conforms; KubeRay kinds need `schema_dir` (the CRDs)."""
    kind, api = obj.get("kind"), obj.get("apiVersion", "")
    where = f"{kind}/{obj.get('metadata', {}).get('name')}"
    if kind in CRD_FILES:
        if schema_dir is None:
            raise InvalidManifest(f"{where}: no CRD schemas to validate against")
        group, _, version = api.partition("/")
        if group != "ray.io":
            raise InvalidManifest(f"{where}: apiVersion {api} is not ray.io")
        errors = sorted(crd_validator(schema_dir, kind, version).iter_errors(obj), key=lambda e: list(e.path))
        if errors:
            raise InvalidManifest(
                "; ".join(f"{where} at {'.'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors)
            )
        return
    try:
        kv.validate(obj, kv.latest_version(), strict=True)
    except kv.ValidationError as exc:
        raise InvalidManifest(
            f"{where} at {'.'.join(map(str, exc.path)) or '(root)'}: {exc.message}"
        ) from exc
    except kv.SchemaNotFoundError as exc:
        raise InvalidManifest(f"{where}: {exc.message}") from exc
