"""A small kustomize renderer for the features k8s/ uses, so manifests are tested where kubectl is absent.

Supported (anything else in a kustomization is an error, so the renderer never silently differs from
kustomize): `resources` (files, or directories holding a kustomization), `labels` with `pairs` only
(metadata labels, no selectors), `patches` with a file of RFC 6902 operations and a `target` (kind,
and a name that is a regular expression, as kustomize takes it), and `images` (name, newName, newTag)
applied to every container image. Per kustomization: resources, then labels, patches, images.
Where `kubectl kustomize` exists, a test checks that both render the same objects.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

KNOWN = {"apiVersion", "kind", "resources", "labels", "patches", "images"}


def render(directory: Path) -> list[dict]:
    directory = Path(directory)
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - KNOWN
    if unknown:
        raise ValueError(f"{directory}/kustomization.yaml uses {sorted(unknown)}, which this renderer lacks")
    objects: list[dict] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        if path.is_dir():
            objects += render(path)
        else:
            objects += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    for label in kustomization.get("labels", []):
        if set(label) - {"pairs"}:
            raise ValueError(f"labels options {sorted(set(label) - {'pairs'})} are not supported")
        for obj in objects:
            obj.setdefault("metadata", {}).setdefault("labels", {}).update(label["pairs"])
    for patch in kustomization.get("patches", []):
        ops = yaml.safe_load((directory / patch["path"]).read_text())
        targets = [obj for obj in objects if _selected(obj, patch["target"])]
        if not targets:
            raise ValueError(f"patch {patch['path']} in {directory} matches no object")
        for obj in targets:
            for op in ops:
                apply_op(obj, op)
    for image in kustomization.get("images", []):
        for obj in objects:
            _retag(obj, image)
    return objects


def _selected(obj: dict, target: dict) -> bool:
    if set(target) - {"kind", "name"}:
        raise ValueError(f"patch target keys {sorted(set(target) - {'kind', 'name'})} are not supported")
    name = obj.get("metadata", {}).get("name", "")
    return obj.get("kind") == target.get("kind", obj.get("kind")) and bool(
        re.fullmatch(target.get("name", ".*"), name)
    )


def _tokens(path: str) -> list[str]:
    return [t.replace("~1", "/").replace("~0", "~") for t in path.lstrip("/").split("/")]


def apply_op(doc: Any, op: dict) -> None:
    """One RFC 6902 operation (add, replace, remove) on `doc`, in place."""
    *parents, last = _tokens(op["path"])
    node = doc
    for token in parents:
        node = node[int(token)] if isinstance(node, list) else node[token]
    kind = op["op"]
    if kind not in ("add", "replace", "remove"):
        raise ValueError(f"patch op {kind!r} is not supported")
    if isinstance(node, list):
        index = len(node) if last == "-" else int(last)
        if kind == "add":
            node.insert(index, copy.deepcopy(op["value"]))
        elif kind == "replace":
            node[index] = copy.deepcopy(op["value"])
        else:
            del node[index]
        return
    if kind in ("replace", "remove") and last not in node:
        raise KeyError(f"patch {kind} of missing path {op['path']}")
    if kind == "remove":
        del node[last]
    else:
        node[last] = copy.deepcopy(op["value"])


def _retag(node: Any, image: dict) -> None:
    """Rewrite `image` fields of containers whose image name is `image['name']`."""
    if isinstance(node, list):
        for item in node:
            _retag(item, image)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key in ("containers", "initContainers") and isinstance(value, list):
            for container in value:
                name, _, tag = container.get("image", "").partition(":")
                if name == image["name"]:
                    container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}"
        _retag(value, image)
