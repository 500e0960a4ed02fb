"""The KubeRay manifests in k8s/: every rendered object of every overlay validates against the
Kubernetes and KubeRay schemas, RayJob entrypoints are real `unitscope` commands, and each overlay
has what it promises (autoscaling, job TTLs, probes, GPUs)."""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
import shutil
import subprocess

import pytest
import yaml
from unitscope.infra.cli import build_parser

from tests.helpers import ROOT
from tests.infra import k8s_schema, kustomize

K8S = ROOT / "k8s"
SCHEMAS = ROOT / "tests" / "fixtures" / "k8s-schemas"
OVERLAYS = ["base", "overlays/local", "overlays/cloud"]

RENDERED = {name: kustomize.render(K8S / name) for name in OVERLAYS}
OBJECTS = [
    pytest.param(name, obj, id=f"{name.split('/')[-1]}-{obj['kind']}-{obj['metadata']['name']}")
    for name, objs in RENDERED.items()
    for obj in objs
]


def _of(overlay: str, kind: str) -> list[dict]:
    return [o for o in RENDERED[overlay] if o["kind"] == kind]


@pytest.mark.parametrize(("overlay", "obj"), OBJECTS)
def test_manifest_validates(overlay, obj):
    k8s_schema.validate(obj, SCHEMAS)


def test_secret_example_validates():
    for obj in yaml.safe_load_all((K8S / "storage-secret.example.yaml").read_text()):
        k8s_schema.validate(obj, None)
        assert all(v.startswith("REPLACE_WITH_") for v in obj["stringData"].values())


@pytest.mark.slow
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_renderer_matches_kubectl_kustomize(overlay):
    if not shutil.which("kubectl"):
        pytest.skip("kubectl is not installed")
    out = subprocess.run(
        ["kubectl", "kustomize", str(K8S / overlay)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    key = lambda o: (o["kind"], o["metadata"]["name"])  # noqa: E731
    theirs = sorted((d for d in yaml.safe_load_all(out.stdout) if d), key=key)
    assert sorted(RENDERED[overlay], key=key) == theirs


def _mutate(obj: dict, path: str, value) -> dict:
    obj = yaml.safe_load(yaml.safe_dump(obj))
    kustomize.apply_op(obj, {"op": "add", "path": path, "value": value})
    return obj


PLANTED = [
    ("RayCluster", "/spec/workerGroupSpecs/0/maxReplicas", "two", "maxReplicas"),
    ("RayCluster", "/spec/headGroupSpec/template/spec/containers/0/envFrm", [], "envFrm"),
    ("RayJob", "/spec/shutdownAfterJobFinish", True, "shutdownAfterJobFinish"),
    ("RayJob", "/spec/ttlSecondsAfterFinished", "10m", "ttlSecondsAfterFinished"),
    ("Deployment", "/spec/replicas", "1", "replicas"),
    ("Deployment", "/spec/template/spec/containers/0/readinesProbe", {}, "readinesProbe"),
    ("Service", "/spec/port", 80, "port"),
]


@pytest.mark.parametrize(("kind", "path", "value", "named"), PLANTED, ids=[p[1] for p in PLANTED])
def test_validator_catches_planted_mistakes(kind, path, value, named):
    obj = _of("base", kind)[0]
    bad = _mutate(obj, path, value)
    with pytest.raises(k8s_schema.InvalidManifest, match=re.escape(named)):
        k8s_schema.validate(bad, SCHEMAS)


def test_closed_schema_respects_preserve_unknown_fields():
    schema = k8s_schema.closed(
        {
            "type": "object",
            "properties": {"a": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
        }
    )
    assert schema["additionalProperties"] is False
    assert "additionalProperties" not in schema["properties"]["a"]


def _expand(text: str, env: dict[str, str], pattern: str) -> str:
    def value(m: re.Match) -> str:
        name = next(g for g in m.groups() if g)
        if name not in env:
            pytest.fail(f"{text!r} uses ${name}, which the ConfigMap does not define")
        return env[name]

    return re.sub(pattern, value, text)


def parse_unitscope(argv: list[str]) -> argparse.Namespace:
    """Parse `unitscope ...` with this checkout's CLI: unknown flags fail the test."""
    assert argv[0] == "unitscope", f"{argv} does not run the unitscope CLI"
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    if argv[1] not in commands:
        pytest.fail(f"`unitscope {argv[1]}` is not a unitscope command")
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            return parser.parse_args(argv[1:])
    except SystemExit:
        pytest.fail(f"`{shlex.join(argv)}` is rejected by the CLI: {err.getvalue()}")


JOBS = [
    pytest.param(o, obj, id=f"{o.split('/')[-1]}-{obj['metadata']['name']}")
    for o in OVERLAYS
    for obj in _of(o, "RayJob")
]


@pytest.mark.parametrize(("overlay", "job"), JOBS)
def test_rayjob_entrypoint_is_a_real_command(overlay, job):
    config = _of(overlay, "ConfigMap")[0]["data"]
    argv = shlex.split(_expand(job["spec"]["entrypoint"], config, r"\$(\w+)|\$\{(\w+)\}"))
    args = parse_unitscope(argv)
    assert args.command == job["metadata"]["name"].removeprefix("unitscope-")
    # the submitter's shell may expand $UNITSCOPE_* before Ray sees the entrypoint: it needs the config too
    (submitter,) = job["spec"]["submitterPodTemplate"]["spec"]["containers"]
    assert {"configMapRef": {"name": "unitscope-config"}} in submitter["envFrom"]
    assert "://" in argv[2], "stage inputs/outputs on a cluster must be shared storage URLs"


@pytest.mark.parametrize(("overlay", "job"), JOBS)
def test_rayjob_cleans_up_and_sizes_its_pods(overlay, job):
    spec = job["spec"]
    assert spec["shutdownAfterJobFinishes"] is True and spec["ttlSecondsAfterFinished"] > 0
    assert spec["suspend"] is True, "stages start one after another: each RayJob is created suspended"
    cluster = spec["rayClusterSpec"]
    for group in [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]:
        for container in group["template"]["spec"]["containers"]:
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]) and {"cpu", "memory"} <= set(
                resources["limits"]
            )
            refs = {ref.get("configMapRef", ref.get("secretRef"))["name"] for ref in container["envFrom"]}
            assert refs == {"unitscope-config", "unitscope-storage"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_raycluster_autoscales(overlay):
    (cluster,) = _of(overlay, "RayCluster")
    assert cluster["spec"]["enableInTreeAutoscaling"] is True
    for group in cluster["spec"]["workerGroupSpecs"]:
        assert group["minReplicas"] < group["maxReplicas"]


@pytest.mark.slow
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_serve_runs_the_query_server_with_health_probes(overlay):
    (deployment,) = [d for d in _of(overlay, "Deployment") if d["metadata"]["name"] == "unitscope-serve"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    config = _of(overlay, "ConfigMap")[0]["data"]
    env = {e["name"]: config[e["valueFrom"]["configMapKeyRef"]["key"]] for e in container["env"]}
    args = parse_unitscope(
        [_expand(a, env, r"\$\((\w+)\)") for a in container["command"] + container["args"]]
    )
    port = next(p for p in container["ports"] if p["name"] == "http")
    assert args.command == "serve" and args.port == port["containerPort"] and args.host == "0.0.0.0"
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    (service,) = [s for s in _of(overlay, "Service") if s["metadata"]["name"] == "unitscope-serve"]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def _gpus(containers: list[dict]) -> int:
    return sum(int(c["resources"].get("limits", {}).get("nvidia.com/gpu", 0)) for c in containers)


def test_cloud_overlay_has_gpu_workers_and_local_has_none():
    cloud_cluster = _of("overlays/cloud", "RayCluster")[0]["spec"]
    assert any(_gpus(g["template"]["spec"]["containers"]) for g in cloud_cluster["workerGroupSpecs"])
    cloud_jobs = {j["metadata"]["name"]: j["spec"]["rayClusterSpec"] for j in _of("overlays/cloud", "RayJob")}
    for name in ("unitscope-train", "unitscope-probe"):
        assert _gpus(cloud_jobs[name]["workerGroupSpecs"][0]["template"]["spec"]["containers"]) == 1
    local = yaml.safe_dump(RENDERED["overlays/local"])
    assert "nvidia.com/gpu" not in local
