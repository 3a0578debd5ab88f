"""Static checks of the deployment files: Dockerfile, docker-compose.yml, deploy/k8s (kustomize).

No Docker or cluster is needed: the files are parsed and cross-checked against the code's own
service names, ports and topics.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from shared.settings import DEFAULT_PORTS, SERVICE_NAMES
from shared.topics import ALL_TOPICS

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"

K8S_YAML = sorted(p for p in K8S.rglob("*") if p.suffix in {".yaml", ".yml"})
KUSTOMIZATIONS = sorted(K8S.rglob("kustomization.yaml"))
OVERLAYS = sorted(p.parent for p in KUSTOMIZATIONS if p.parent.parent.name == "overlays")


def _docs(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [d for d in yaml.safe_load_all(fh) if d is not None]


def _resource_files(kdir: Path) -> list[Path]:
    """Every YAML file a kustomization pulls in, following directory resources recursively."""
    kust = _docs(kdir / "kustomization.yaml")[0]
    files: list[Path] = []
    for entry in kust.get("resources", []):
        target = (kdir / entry).resolve()
        if target.is_dir():
            files.extend(_resource_files(target))
        else:
            files.append(target)
    return files


def _rendered(kdir: Path, kind: str) -> list[dict]:
    return [d for f in _resource_files(kdir) for d in _docs(f) if d.get("kind") == kind]


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
    assert kafka["apiVersion"] == "kafka.strimzi.io/v1beta2"
    assert kafka["metadata"]["annotations"]["strimzi.io/kraft"] == "enabled"
    assert kafka["spec"]["kafka"]["config"]["auto.create.topics.enable"] is False
    (pool,) = _rendered(prod, "KafkaNodePool")
    assert pool["spec"]["replicas"] == 3 and set(pool["spec"]["roles"]) == {"controller", "broker"}
    topics = {t["spec"]["topicName"]: t["spec"] for t in _rendered(prod, "KafkaTopic")}
    assert set(topics) == set(ALL_TOPICS)
    for spec in topics.values():
        assert spec["partitions"] == 12 and spec["replicas"] == 3
        assert spec["config"]["min.insync.replicas"] == 2
    (pg,) = _rendered(prod, "Cluster")
    assert pg["apiVersion"] == "postgresql.cnpg.io/v1" and pg["spec"]["instances"] == 3
    # The CloudNativePG app Secret is `<cluster>-app`; the Deployments read exactly that name.
    assert f"{pg['metadata']['name']}-app" == "linkage-db-app"


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
    assert services["kafka"]["image"] == "apache/kafka:3.9.0"
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
