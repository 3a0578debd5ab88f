"""Static checks of the deployment files: Dockerfile, docker-compose.yml, deploy/k8s (kustomize).

No Docker or cluster is needed: the files are parsed and cross-checked against the code's own
service names, ports and topics. The overlays are rendered (a small kustomize subset below, compared
with ``kubectl kustomize`` where kubectl exists) and every rendered object is validated: core
Kubernetes kinds with ``kubernetes-validate`` (strict: unknown fields fail), operator kinds with
``jsonschema`` against the CRD schemas kept in deploy/k8s/schemas (Strimzi, CloudNativePG,
Prometheus Operator), closed the way the API server's strict field validation closes them.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from shared.settings import DEFAULT_PORTS, SERVICE_NAMES
from shared.topics import ALL_TOPICS

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
SCHEMAS = K8S / "schemas"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"

K8S_YAML = sorted(p for p in K8S.rglob("*") if p.suffix in {".yaml", ".yml"})
KUSTOMIZATIONS = sorted(K8S.rglob("kustomization.yaml"))
OVERLAYS = sorted(p.parent for p in KUSTOMIZATIONS if p.parent.parent.name == "overlays")


def _docs(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [d for d in yaml.safe_load_all(fh) if d is not None]


def _rendered(kdir: Path, kind: str) -> list[dict]:
    return [d for d in render(kdir) if d.get("kind") == kind]


def _compose() -> dict:
    return _docs(COMPOSE)[0]


def test_there_is_something_to_check() -> None:
    assert K8S_YAML and KUSTOMIZATIONS
    assert {p.name for p in OVERLAYS} >= {"production", "dev"}


@pytest.mark.parametrize("path", [*K8S_YAML, COMPOSE], ids=lambda p: str(p.relative_to(ROOT)))
def test_yaml_parses(path: Path) -> None:
    docs = _docs(path)
    assert docs, f"{path} is empty"
    for doc in docs:
        assert isinstance(doc, dict)
        if path != COMPOSE and path.name != "kustomization.yaml":
            assert doc.get("apiVersion") and doc.get("kind"), f"{path}: not a Kubernetes object"


@pytest.mark.parametrize("kfile", KUSTOMIZATIONS, ids=lambda p: str(p.relative_to(ROOT)))
def test_kustomization_references_exist(kfile: Path) -> None:
    kust = _docs(kfile)[0]
    assert kust.get("kind") == "Kustomization"
    assert kust.get("namespace") == "linkage"
    refs = list(kust.get("resources", [])) + [p["path"] for p in kust.get("patches", []) if "path" in p]
    assert refs
    for ref in refs:
        target = kfile.parent / ref
        assert target.exists(), f"{kfile}: {ref} does not exist"
        if target.is_dir():
            assert (target / "kustomization.yaml").exists(), f"{kfile}: {ref} is not a kustomization"


def test_every_yaml_under_k8s_is_used() -> None:
    used = {kf.resolve() for kf in KUSTOMIZATIONS}
    for kf in KUSTOMIZATIONS:
        kust = _docs(kf)[0]
        used.update((kf.parent / r).resolve() for r in kust.get("resources", []))
        used.update((kf.parent / p["path"]).resolve() for p in kust.get("patches", []) if "path" in p)
    stray = [str(p.relative_to(ROOT)) for p in K8S_YAML if p.resolve() not in used]
    assert not stray, f"not listed in any kustomization: {stray}"


def test_deployments_run_each_service_once_with_probes() -> None:
    deployments = _rendered(K8S / "base", "Deployment")
    seen = []
    for dep in deployments:
        pod = dep["spec"]["template"]["spec"]
        assert len(pod["containers"]) == 1
        c = pod["containers"][0]
        argv = [*c.get("command", []), *c.get("args", [])]
        assert argv[:2] == ["linkage", "serve"], f"{dep['metadata']['name']}: {argv}"
        service = argv[2]
        assert service in SERVICE_NAMES
        assert dep["metadata"]["name"] == service
        seen.append(service)
        port = DEFAULT_PORTS[service]
        assert "--host" in argv and argv[argv.index("--host") + 1] == "0.0.0.0"
        assert int(argv[argv.index("--port") + 1]) == port
        assert c["ports"][0]["containerPort"] == port
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert c["resources"]["requests"] and c["resources"]["limits"]
        ann = dep["spec"]["template"]["metadata"]["annotations"]
        assert ann["prometheus.io/scrape"] == "true"
        assert ann["prometheus.io/port"] == str(port) and ann["prometheus.io/path"] == "/metrics"
        assert {"configMapRef": {"name": "linkage-config"}} in c["envFrom"]
        db = next(e for e in c["env"] if e["name"] == "LINKAGE_DATABASE_URL")
        assert db["valueFrom"]["secretKeyRef"] == {"name": "linkage-db-app", "key": "uri"}
        assert pod["securityContext"]["runAsNonRoot"] is True
        for init in pod.get("initContainers", []):
            assert [*init["command"], *init["args"]] == ["linkage", "migrate", service]
    assert sorted(seen) == sorted(SERVICE_NAMES)


def test_services_match_deployments() -> None:
    services = {s["metadata"]["name"]: s for s in _rendered(K8S / "base", "Service")}
    assert set(services) == set(SERVICE_NAMES)
    for name, svc in services.items():
        assert svc["spec"]["selector"]["app.kubernetes.io/component"] == name
        assert svc["spec"]["ports"][0]["port"] == DEFAULT_PORTS[name]


def test_migration_job_and_scaling_objects() -> None:
    (job,) = _rendered(K8S / "base", "Job")
    c = job["spec"]["template"]["spec"]["containers"][0]
    assert [*c["command"], *c["args"]] == ["linkage", "migrate"]
    hpas = {h["spec"]["scaleTargetRef"]["name"] for h in _rendered(K8S / "base", "HorizontalPodAutoscaler")}
    pdbs = {p["metadata"]["name"] for p in _rendered(K8S / "base", "PodDisruptionBudget")}
    assert hpas == pdbs == {"intake", "dispatch"}


def test_production_operators() -> None:
    prod = K8S / "overlays" / "production"
    (kafka,) = _rendered(prod, "Kafka")
    assert kafka["apiVersion"] == "kafka.strimzi.io/v1"
    # KRaft with node pools is the only mode of Strimzi 1.x: the v1beta2-era annotations are gone.
    assert not {"strimzi.io/kraft", "strimzi.io/node-pools"} & set(kafka["metadata"].get("annotations", {}))
    assert kafka["spec"]["kafka"]["config"]["auto.create.topics.enable"] is False
    pools = {p["metadata"]["name"]: p["spec"] for p in _rendered(prod, "KafkaNodePool")}
    assert {name: (spec["replicas"], spec["roles"]) for name, spec in pools.items()} == {
        "controller": (3, ["controller"]),
        "broker": (3, ["broker"]),
    }
    topics = {t["spec"]["topicName"]: t["spec"] for t in _rendered(prod, "KafkaTopic")}
    assert set(topics) == set(ALL_TOPICS)
    for spec in topics.values():
        assert spec["partitions"] == 12 and spec["replicas"] == 3
        assert spec["config"]["min.insync.replicas"] == 2
    (pg,) = _rendered(prod, "Cluster")
    assert pg["apiVersion"] == "postgresql.cnpg.io/v1" and pg["spec"]["instances"] == 3
    # The CloudNativePG app Secret is `<cluster>-app`; the Deployments read exactly that name.
    assert f"{pg['metadata']['name']}-app" == "linkage-db-app"


# Kafka versions Strimzi 1.2.0 supports (its kafka-versions.yaml) and the metadata version of each.
STRIMZI_RELEASE = "1.2.0"
STRIMZI_KAFKA_VERSIONS = {"4.2.0": "4.2-IV1", "4.2.1": "4.2-IV1", "4.3.0": "4.3-IV0", "4.3.1": "4.3-IV0"}
CNPG_RELEASE = "1.30.0"
PROMETHEUS_OPERATOR_RELEASE = "0.93.0"


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda p: p.name)
def test_kafka_is_a_version_strimzi_supports(overlay: Path) -> None:
    (kafka,) = _rendered(overlay, "Kafka")
    spec = kafka["spec"]["kafka"]
    assert spec["version"] in STRIMZI_KAFKA_VERSIONS, f"Strimzi {STRIMZI_RELEASE} does not run Kafka {spec['version']}"
    assert spec["metadataVersion"] == STRIMZI_KAFKA_VERSIONS[spec["version"]]
    for pool in _rendered(overlay, "KafkaNodePool"):
        assert pool["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
    roles = {role for pool in _rendered(overlay, "KafkaNodePool") for role in pool["spec"]["roles"]}
    assert roles == {"controller", "broker"}
    # compose runs the same Kafka release as the clusters.
    assert _compose()["services"]["kafka"]["image"] == f"apache/kafka:{spec['version']}"


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda p: p.name)
def test_postgres_monitoring_is_a_podmonitor(overlay: Path) -> None:
    """CloudNativePG deprecated ``monitoring.enablePodMonitor``: production ships its own PodMonitor."""
    (pg,) = _rendered(overlay, "Cluster")
    assert "enablePodMonitor" not in pg["spec"].get("monitoring", {})
    if overlay.name != "production":
        return
    (monitor,) = [m for m in render(overlay) if m["kind"] == "PodMonitor" and m["metadata"]["name"] == "linkage-db"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["selector"] == {"matchLabels": {"cnpg.io/cluster": pg["metadata"]["name"]}}
    assert monitor["spec"]["podMetricsEndpoints"] == [{"port": "metrics"}]


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda p: p.name)
def test_overlays_point_at_the_operator_kafka(overlay: Path) -> None:
    kust = _docs(overlay / "kustomization.yaml")[0]
    text = json.dumps(kust)
    (kafka,) = _rendered(overlay, "Kafka")
    assert f"{kafka['metadata']['name']}-kafka-bootstrap:9092" in text
    assert "delete-placeholder-secret.yaml" in text


def test_compose_services() -> None:
    compose = _compose()
    services = compose["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert services["topics"]["image"] == services["kafka"]["image"]
    assert services["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert "healthcheck" in services["kafka"] and "healthcheck" in services["postgres"]
    assert services["postgres"]["image"].startswith("postgres:17")
    app = {n: s for n, s in services.items() if n in SERVICE_NAMES or n == "migrate"}
    assert set(app) == {*SERVICE_NAMES, "migrate"}
    images = {s["image"] for s in app.values()}
    assert len(images) == 1, f"services use different images: {images}"
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in SERVICE_NAMES:
        svc = services[name]
        assert svc["command"][:2] == ["serve", name]
        assert svc["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert svc["depends_on"]["kafka"]["condition"] == "service_healthy"
        port = DEFAULT_PORTS[name]
        assert f"{port}:{port}" in svc["ports"]
        env = svc["environment"]
        assert env["LINKAGE_DATABASE_URL"] == "postgresql://linkage:linkage@postgres:5432/linkage"
        assert env["LINKAGE_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert str(env["LINKAGE_PARTITIONS"]) == "12"
        assert str(env["LINKAGE_LOG_JSON"]).lower() == "true"


def test_dockerfile() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    assert re.search(r'^ENTRYPOINT \["linkage"\]$', text, re.M)
    assert re.search(r'^CMD \["serve", "intake", "--host", "0\.0\.0\.0"\]$', text, re.M)
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and not user[-1].startswith(("root", "0")), "the image must run as a non-root user"
    assert "HEALTHCHECK" in text and "/healthz" in text
    assert "[dev]" not in text and "pip install ." in text
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".venv", "var", ".git"} <= set(ignored)


def _secret_variables() -> dict[str, str]:
    """``LINKAGE_*`` name → public demo default of every registered secret the code defines."""
    from services.notify.config import NotifySettings
    from shared.settings import SECRET_SETTINGS, Settings

    found: dict[str, str] = {}
    for name in SECRET_SETTINGS:
        for cls in (Settings, NotifySettings):
            if name in cls.model_fields:
                found[f"LINKAGE_{name.upper()}"] = str(cls.model_fields[name].default)
                break
    return found


def test_deployments_require_every_secret() -> None:
    secrets = _secret_variables()
    assert {
        "LINKAGE_WECHAT_TOKEN",
        "LINKAGE_OPEN311_API_KEYS",
        "LINKAGE_GRID_TOKEN_SECRET",
        "LINKAGE_AUDIT_KEY",
    } <= set(secrets)
    for dep in _rendered(K8S / "base", "Deployment"):
        c = dep["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e for e in c["env"]}
        for variable in secrets:
            assert variable in env, f"{dep['metadata']['name']}: {variable} is not passed"
            ref = env[variable]["valueFrom"]["secretKeyRef"]
            assert ref == {"name": "linkage-app-secrets", "key": variable, "optional": False}
        for source in c["envFrom"]:
            assert source.get("secretRef", {}).get("optional") is not True
    for path in K8S_YAML:
        assert "optional: true" not in path.read_text(encoding="utf-8"), f"{path}: an optional reference"


def test_only_the_dev_overlay_supplies_demo_secrets_and_demo_mode() -> None:
    secrets = _secret_variables()
    dev = K8S / "overlays" / "dev"
    (demo,) = [s for s in _rendered(dev, "Secret") if s["metadata"]["name"] == "linkage-app-secrets"]
    assert demo["stringData"] == secrets  # explicitly the public demo values
    assert '"LINKAGE_DEMO_MODE"' not in json.dumps(_rendered(K8S / "base", "ConfigMap"))
    dev_patches = json.dumps(_docs(dev / "kustomization.yaml")[0]["patches"])
    assert "/data/LINKAGE_DEMO_MODE" in dev_patches
    prod = K8S / "overlays" / "production"
    assert not [s for s in _rendered(prod, "Secret") if s["metadata"]["name"] == "linkage-app-secrets"]
    assert "LINKAGE_DEMO_MODE" not in (prod / "kustomization.yaml").read_text(encoding="utf-8")


def test_compose_is_a_demo() -> None:
    services = _compose()["services"]
    for name in SERVICE_NAMES:
        assert str(services[name]["environment"]["LINKAGE_DEMO_MODE"]).lower() == "true"


# --- kustomize, the subset these overlays use --------------------------------------------------------
# resources (files and directories), namespace, labels (pairs), images, patches: a file or inline patch,
# either JSON 6902 operations or a strategic-merge `$patch: delete`. Anything else fails loudly, and
# test_render_matches_kubectl_kustomize compares the result with the real kustomize where kubectl exists.

KUSTOMIZATION_KEYS = {
    "apiVersion",
    "kind",
    "namespace",
    "labels",
    "resources",
    "patches",
    "images",
    "configMapGenerator",
}
# Every kustomization that is applied: the base, the overlays and deploy/monitoring (when present).
MONITORING = ROOT / "deploy" / "monitoring"
RENDERED = [K8S / "base", *OVERLAYS, *([MONITORING] if (MONITORING / "kustomization.yaml").exists() else [])]
CLUSTER_SCOPED = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "StorageClass"}


@functools.cache
def _render(kdir: Path) -> tuple[str, ...]:
    kust = _docs(kdir / "kustomization.yaml")[0]
    unknown = set(kust) - KUSTOMIZATION_KEYS
    if unknown:
        raise NotImplementedError(f"{kdir}: extend the test's kustomize subset for {sorted(unknown)}")
    objects: list[dict[str, Any]] = []
    for entry in kust.get("resources", []):
        target = (kdir / entry).resolve()
        objects.extend(render(target) if target.is_dir() else _docs(target))
    objects.extend(_generated_config_map(kdir, gen) for gen in kust.get("configMapGenerator", []))
    for patch in kust.get("patches", []):
        objects = _apply_patch(kdir, patch, objects)
    for obj in objects:
        meta = obj.setdefault("metadata", {})
        if "namespace" in kust and obj["kind"] not in CLUSTER_SCOPED:
            meta["namespace"] = kust["namespace"]
        for label in kust.get("labels", []):
            if set(label) != {"pairs"}:
                raise NotImplementedError(f"{kdir}: labels options {sorted(set(label) - {'pairs'})}")
            meta.setdefault("labels", {}).update(label["pairs"])
        for image in kust.get("images", []):
            _set_image(obj, image)
    return tuple(json.dumps(o, sort_keys=True) for o in objects)


def render(kdir: Path) -> list[dict[str, Any]]:
    """The objects ``kubectl kustomize kdir`` would print (each call returns fresh copies)."""
    return [json.loads(o) for o in _render(kdir.resolve())]


def _generated_config_map(kdir: Path, gen: dict[str, Any]) -> dict[str, Any]:
    options = gen.get("options", {})
    if set(gen) - {"name", "files", "options"} or set(options) - {"disableNameSuffixHash", "labels"}:
        raise NotImplementedError(f"{kdir}: configMapGenerator {gen}")
    if options.get("disableNameSuffixHash") is not True:
        raise NotImplementedError(f"{kdir}: configMapGenerator name hashes")
    meta: dict[str, Any] = {"name": gen["name"]}
    if options.get("labels"):
        meta["labels"] = dict(options["labels"])
    data = {Path(f).name: (kdir / f).read_text(encoding="utf-8") for f in gen["files"]}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def _matches(obj: dict[str, Any], target: dict[str, Any]) -> bool:
    if set(target) - {"kind", "name"}:
        raise NotImplementedError(f"patch target selectors {sorted(set(target) - {'kind', 'name'})}")
    kind_ok = target.get("kind", obj["kind"]) == obj["kind"]
    return kind_ok and target.get("name", obj["metadata"]["name"]) == obj["metadata"]["name"]


def _apply_patch(kdir: Path, patch: dict[str, Any], objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    text = (kdir / patch["path"]).read_text(encoding="utf-8") if "path" in patch else patch["patch"]
    body = yaml.safe_load(text)
    if isinstance(body, list):  # JSON 6902 operations on every target
        target = patch.get("target")
        if not target:
            raise NotImplementedError("a JSON 6902 patch needs a target")
        for obj in objects:
            if _matches(obj, target):
                for op in body:
                    _json6902(obj, op)
        return objects
    if body.get("$patch") == "delete":
        target = {"kind": body["kind"], "name": body["metadata"]["name"]}
        kept = [o for o in objects if not _matches(o, target)]
        assert len(kept) == len(objects) - 1, f"{kdir}: the delete patch of {target} matches nothing"
        return kept
    raise NotImplementedError(f"{kdir}: strategic-merge patches other than $patch: delete")


def _json6902(obj: dict[str, Any], op: dict[str, Any]) -> None:
    *parents, last = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
    node: Any = obj
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if op["op"] in {"replace", "remove"}:
        assert (int(last) < len(node)) if isinstance(node, list) else last in node, f"no {op['path']} to {op['op']}"
    if op["op"] == "remove":
        del node[int(last) if isinstance(node, list) else last]
    elif op["op"] in {"add", "replace"}:
        if isinstance(node, list):
            index = len(node) if last == "-" else int(last)
            node[index : index + (op["op"] == "replace")] = [op["value"]]
        else:
            node[last] = op["value"]
    else:
        raise NotImplementedError(f"JSON 6902 op {op['op']}")


def _set_image(obj: dict[str, Any], image: dict[str, str]) -> None:
    def containers(node: Any) -> Iterator[dict[str, Any]]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in {"containers", "initContainers"} and isinstance(value, list):
                    yield from (c for c in value if isinstance(c, dict) and "image" in c)
                else:
                    yield from containers(value)
        elif isinstance(node, list):
            for item in node:
                yield from containers(item)

    for container in containers(obj):
        name, _, tag = container["image"].partition(":")
        if name == image["name"]:
            container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}"


def _key(obj: dict[str, Any]) -> tuple[str, str, str]:
    return obj["apiVersion"], obj["kind"], obj["metadata"]["name"]


@pytest.mark.parametrize("kdir", RENDERED, ids=lambda p: p.name)
def test_render_matches_kubectl_kustomize(kdir: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the subset above renders alone")
    out = subprocess.run([kubectl, "kustomize", str(kdir)], capture_output=True, text=True, check=True, timeout=60)
    theirs = {_key(o): o for o in yaml.safe_load_all(out.stdout) if o}
    ours = {_key(o): o for o in render(kdir)}
    assert sorted(ours) == sorted(theirs)
    for key, obj in ours.items():
        assert obj == theirs[key], f"{kdir.name}: {key} renders differently from kubectl kustomize"


# --- schema validation ----------------------------------------------------------------------------
# Kubernetes versions both operators support: Strimzi 1.2 runs on 1.30+, CloudNativePG 1.30 is tested
# on 1.30-1.36.
KUBERNETES_VERSIONS = ("1.30.0", "1.36.0")
# API groups kubernetes-validate knows (the built-in kinds); any other group needs a CRD in SCHEMAS.
CORE_GROUPS = {"", "apps", "batch", "autoscaling", "policy", "networking.k8s.io", "rbac.authorization.k8s.io"}


def _strict(node: dict[str, Any], *, root: bool = True) -> dict[str, Any]:
    """A CRD's openAPIV3Schema as the API server applies it with strict field validation: a field
    that no ``properties`` declare is an error (unless ``x-kubernetes-preserve-unknown-fields``),
    int-or-string accepts both."""
    node = dict(node)
    if node.pop("x-kubernetes-int-or-string", False):
        node.pop("type", None)
        node.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if node.pop("nullable", False) and "type" in node:
        node["type"] = [node["type"], "null"]
    if "properties" in node:
        node["properties"] = {
            # the root `metadata` is ObjectMeta, checked by the API server itself
            k: v if root and k == "metadata" else _strict(v, root=False)
            for k, v in node["properties"].items()
        }
    if isinstance(node.get("items"), dict):
        node["items"] = _strict(node["items"], root=False)
    if isinstance(node.get("additionalProperties"), dict):
        node["additionalProperties"] = _strict(node["additionalProperties"], root=False)
    if (
        node.get("type") == "object"
        and "additionalProperties" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        node["additionalProperties"] = False
    return node


def _crd_files() -> list[Path]:
    return sorted(SCHEMAS.glob("*.json"))


@functools.cache
def _crd_validators() -> dict[tuple[str, str], dict[str, jsonschema.protocols.Validator]]:
    """(group, kind) → {served version: validator}."""
    found: dict[tuple[str, str], dict[str, jsonschema.protocols.Validator]] = {}
    for path in _crd_files():
        crd = json.loads(path.read_text(encoding="utf-8"))
        spec = crd["spec"]
        found[(spec["group"], spec["names"]["kind"])] = {
            v["name"]: jsonschema.Draft4Validator(_strict(v["schema"]["openAPIV3Schema"]))
            for v in spec["versions"]
            if v["served"]
        }
    return found


def schema_errors(obj: dict[str, Any]) -> list[str]:
    """Every reason the API server (with the operators' CRDs installed) would refuse ``obj``."""
    group, _, version = obj["apiVersion"].rpartition("/")
    name = f"{obj['kind']}/{obj['metadata'].get('name')}"
    if group in CORE_GROUPS:
        errors = []
        for kubernetes in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(obj, kubernetes, strict=True)
            except kubernetes_validate.ValidationError as exc:
                path = "/".join(str(p) for p in exc.path)
                errors.append(f"{name} (Kubernetes {kubernetes}) at /{path}: {exc.message}")
            except kubernetes_validate.SchemaNotFoundError:
                errors.append(f"{name}: Kubernetes {kubernetes} has no {obj['apiVersion']} {obj['kind']}")
        return errors
    served = _crd_validators().get((group, obj["kind"]))
    if served is None:
        return [f"{name}: no CRD schema for {group} {obj['kind']} in {SCHEMAS.relative_to(ROOT)}"]
    if version not in served:
        return [f"{name}: {obj['apiVersion']} is not served (the CRD serves {sorted(served)})"]
    return [
        f"{name} at /{'/'.join(str(p) for p in e.absolute_path)}: {e.message}" for e in served[version].iter_errors(obj)
    ]


@pytest.mark.parametrize("kdir", RENDERED, ids=lambda p: p.name)
def test_rendered_objects_are_valid(kdir: Path) -> None:
    objects = render(kdir)
    assert objects
    errors = [error for obj in objects for error in schema_errors(obj)]
    assert not errors, "\n".join(errors)


def test_validation_refuses_old_apis_and_unknown_fields() -> None:
    prod = render(K8S / "overlays" / "production")
    (kafka,) = [o for o in prod if o["kind"] == "Kafka"]
    assert schema_errors(kafka) == []

    old = copy.deepcopy(kafka) | {"apiVersion": "kafka.strimzi.io/v1beta2"}
    assert "is not served" in " ".join(schema_errors(old))
    for kind in ("KafkaNodePool", "KafkaTopic"):
        obj = next(o for o in prod if o["kind"] == kind) | {"apiVersion": "kafka.strimzi.io/v1beta2"}
        assert "is not served" in " ".join(schema_errors(obj)), kind

    typo = copy.deepcopy(kafka)
    typo["spec"]["kafka"]["listener"] = typo["spec"]["kafka"].pop("listeners")
    messages = " ".join(schema_errors(typo))
    assert "'listener' was unexpected" in messages and "'listeners' is a required property" in messages

    removed = copy.deepcopy(kafka)
    removed["spec"]["zookeeper"] = {"replicas": 3}  # gone from the v1 API
    assert "'zookeeper' was unexpected" in " ".join(schema_errors(removed))

    (pg,) = [o for o in prod if o["kind"] == "Cluster"]
    bad_pg = copy.deepcopy(pg)
    bad_pg["spec"]["storage"]["sizee"] = "1Gi"
    assert "'sizee' was unexpected" in " ".join(schema_errors(bad_pg))

    (monitor,) = [o for o in prod if o["kind"] == "PodMonitor"]
    bad_monitor = copy.deepcopy(monitor)
    bad_monitor["spec"]["podMetricsEndpoints"][0]["portt"] = "metrics"
    assert "'portt' was unexpected" in " ".join(schema_errors(bad_monitor))

    deployment = next(o for o in prod if o["kind"] == "Deployment")
    bad_deployment = copy.deepcopy(deployment)
    bad_deployment["spec"]["template"]["spec"]["containers"][0]["envFromm"] = []
    assert "'envFromm' was unexpected" in " ".join(schema_errors(bad_deployment))

    policy = next(o for o in prod if o["kind"] == "NetworkPolicy")
    assert "'v2beta1'" not in json.dumps(policy)
    assert schema_errors(policy | {"apiVersion": "extensions/v1beta1"})  # long removed

    stranger = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert "no CRD schema" in " ".join(schema_errors(stranger))


def test_crd_schemas_are_the_pinned_releases_and_small() -> None:
    files = _crd_files()
    assert sum(p.stat().st_size for p in files) < 300_000
    sources = {}
    for path in files:
        crd = json.loads(path.read_text(encoding="utf-8"))
        spec = crd["spec"]
        assert path.name == f"{spec['group']}_{spec['names']['plural']}.json"
        sources[spec["names"]["kind"]] = crd["metadata"]["annotations"]["linkage.io/source"]
        assert all("status" not in v["schema"]["openAPIV3Schema"]["properties"] for v in spec["versions"])
        if spec["group"] == "kafka.strimzi.io":  # Strimzi 1.x serves v1 only
            assert [v["name"] for v in spec["versions"]] == ["v1"]
    assert sources == {
        "Kafka": f"strimzi/strimzi-kafka-operator@{STRIMZI_RELEASE}",
        "KafkaNodePool": f"strimzi/strimzi-kafka-operator@{STRIMZI_RELEASE}",
        "KafkaTopic": f"strimzi/strimzi-kafka-operator@{STRIMZI_RELEASE}",
        "Cluster": f"cloudnative-pg/cloudnative-pg@v{CNPG_RELEASE}",
        "PodMonitor": f"prometheus-operator/prometheus-operator@v{PROMETHEUS_OPERATOR_RELEASE}",
        "PrometheusRule": f"prometheus-operator/prometheus-operator@v{PROMETHEUS_OPERATOR_RELEASE}",
    }


def test_deploy_doc_states_the_versions_the_manifests_use() -> None:
    doc = DEPLOY_DOC.read_text(encoding="utf-8")
    (kafka,) = _rendered(K8S / "overlays" / "production", "Kafka")
    version = kafka["spec"]["kafka"]["version"]
    assert f"Strimzi {STRIMZI_RELEASE}" in doc and f"Kafka {version}" in doc
    assert "kafka.strimzi.io/v1`" in doc and "v1beta2` objects" in doc
    assert f"CloudNativePG {CNPG_RELEASE}" in doc and "enablePodMonitor" in doc
    assert f"apache/kafka:{version}" in doc
    assert "≥ 0.45" not in doc and "Kafka 3.9" not in doc


# --- network policies ----------------------------------------------------------------------------


def _pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    return dict(workload["spec"]["template"]["metadata"]["labels"])


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, selector
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def _ports(rule: dict[str, Any]) -> set[tuple[str, int]]:
    return {(p["protocol"], p["port"]) for p in rule.get("ports", [])}


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda p: p.name)
def test_a_network_policy_per_service(overlay: Path) -> None:
    objects = render(overlay)
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    workloads = [o for o in objects if o["kind"] in {"Deployment", "Job"}]
    pods = {w["metadata"]["name"]: _pod_labels(w) for w in workloads}
    (kafka,) = [o for o in objects if o["kind"] == "Kafka"]
    (pg,) = [o for o in objects if o["kind"] == "Cluster"]
    kafka_brokers = {"strimzi.io/cluster": kafka["metadata"]["name"], "strimzi.io/broker-role": "true"}
    pg_instances = {"cnpg.io/cluster": pg["metadata"]["name"]}
    calls = {"intake": {"dispatch"}, "notify": {"dispatch"}}  # LINKAGE_DISPATCH_URL

    for workload in workloads:
        name = workload["metadata"]["name"]
        (policy,) = [p for p in policies if _selects(p["spec"]["podSelector"], pods[name])]
        spec = policy["spec"]
        assert spec["policyTypes"] == ["Ingress", "Egress"]
        # in: only the service's own port, only from named peers (never from everywhere)
        callers = {peer for peer, wanted in calls.items() if name in wanted}
        port = DEFAULT_PORTS.get(name)
        for rule in spec.get("ingress", []):
            assert rule.get("from") and _ports(rule) == {("TCP", port)}, f"{name}: {rule}"
        admitted = {
            other
            for rule in spec.get("ingress", [])
            for peer in rule["from"]
            for other, labels in pods.items()
            if "podSelector" in peer and "namespaceSelector" not in peer and _selects(peer["podSelector"], labels)
        }
        assert admitted == callers, f"{name} admits {admitted}"
        if name in SERVICE_NAMES:
            namespaces = [
                p["namespaceSelector"] for r in spec["ingress"] for p in r["from"] if "namespaceSelector" in p
            ]
            assert {"matchLabels": {"linkage.io/monitoring": "true"}} in namespaces  # Prometheus scrapes
        else:
            assert not spec.get("ingress"), f"{name} takes no connections"
        # out: DNS, PostgreSQL, Kafka (services), the services it calls
        egress = spec["egress"]
        for rule in egress:
            assert rule.get("to"), f"{name}: an egress rule to everywhere"
        to = [(peer, _ports(rule)) for rule in egress for peer in rule["to"]]
        assert any(
            p.get("podSelector") == {"matchLabels": {"k8s-app": "kube-dns"}} and ports == {("UDP", 53), ("TCP", 53)}
            for p, ports in to
        )
        assert any(p.get("podSelector") == {"matchLabels": pg_instances} and ("TCP", 5432) in ports for p, ports in to)
        reaches_kafka = any(
            p.get("podSelector") == {"matchLabels": kafka_brokers} and ("TCP", 9092) in ports for p, ports in to
        )
        assert reaches_kafka == (name in SERVICE_NAMES)
        reached = {
            other
            for p, ports in to
            for other, labels in pods.items()
            if "podSelector" in p and _selects(p["podSelector"], labels) and ("TCP", DEFAULT_PORTS.get(other)) in ports
        }
        assert reached == calls.get(name, set()), f"{name} reaches {reached}"
    assert len(policies) == len(workloads)

    # Strimzi's own listener policies admit the Linkage pods, and only them.
    for listener in kafka["spec"]["kafka"]["listeners"]:
        peers = listener["networkPolicyPeers"]
        assert all(any(_selects(p["podSelector"], labels) for p in peers) for labels in pods.values())
