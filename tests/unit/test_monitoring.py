"""deploy/monitoring: the alert rules pass `promtool check rules` and their unit tests (`promtool test rules`),
the dashboard's queries are valid PromQL, every metric they use is one the services define, and the
PrometheusRule holds exactly the rule file's groups. Without promtool (`make promtool`) those steps skip."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

from tests.monitoring import (
    DASHBOARD,
    PROMETHEUS_RULE,
    RULES,
    RULES_TEST,
    alerts,
    dashboard,
    dashboard_exprs,
    exported,
    referenced_metric_names,
    rules,
)

ROOT = Path(__file__).resolve().parents[2]
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (make promtool)")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=120, check=False)


@needs_promtool
def test_promtool_checks_the_rules() -> None:
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in result.stdout


@needs_promtool
def test_promtool_unit_tests_of_the_alerts_pass() -> None:
    result = promtool("test", "rules", str(RULES_TEST))
    assert result.returncode == 0, result.stdout + result.stderr
    tested = set(re.findall(r"alertname: (\w+)", RULES_TEST.read_text(encoding="utf-8")))
    assert tested == {rule["alert"] for rule in alerts()}  # every alert has a firing test


@needs_promtool
def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    exprs = dashboard_exprs()
    recording = {
        "groups": [
            {"name": "dashboard", "rules": [{"record": f"dashboard:q{i}", "expr": e} for i, e in enumerate(exprs)]}
        ]
    }
    path = tmp_path / "dashboard-as-rules.yaml"
    path.write_text(yaml.safe_dump(recording, allow_unicode=True), encoding="utf-8")
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alerts_are_complete_and_documented() -> None:
    operations = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    names = [rule["alert"] for rule in alerts()]
    assert len(names) == len(set(names))
    topics = {
        "readiness": "LinkageServiceNotReady",
        "task restarts": "LinkageTaskRestarting",
        "consumer lag": "LinkageConsumerLagHigh",
        "outbox backlog age": "LinkageOutboxBacklogOld",
        "dead-letter growth": "LinkageDeadLettersGrowing",
        "overdue surge": "LinkageOverdueSurge",
        "timer scanner": "LinkageSlaScannerStale",
        "outbox relay": "LinkageOutboxRelayStale",
    }
    assert set(topics.values()) <= set(names)
    for rule in alerts():
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        anchor = rule["annotations"]["runbook"].split("#", 1)[1]
        assert anchor == rule["alert"].lower()
        assert f"### {rule['alert']}" in operations, f"docs/operations.md lacks a section for {rule['alert']}"


def test_prometheus_rule_holds_the_rule_file() -> None:
    docs = list(yaml.safe_load_all(PROMETHEUS_RULE.read_text(encoding="utf-8")))
    assert len(docs) == 1 and docs[0]["kind"] == "PrometheusRule"
    assert docs[0]["apiVersion"] == "monitoring.coreos.com/v1"
    assert docs[0]["spec"] == rules()


def test_dashboard_is_well_formed() -> None:
    board = dashboard()
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"] for v in board["templating"]["list"]}
    assert {"datasource", "service", "department"} <= variables
    for panel in board["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}"
        assert panel["targets"] and all(t["expr"].strip() and t["refId"] for t in panel["targets"])
    titles = " ".join(p["title"] for p in board["panels"])
    for topic in ("P95", "消费积压", "发件箱最早未发送", "死信", "预警", "超期", "距上次成功"):
        assert topic in titles


def test_every_referenced_metric_is_defined_by_the_services() -> None:
    """The metric names exist in the code (the e2e test checks they are exported by the running services)."""
    import services.analytics.main
    import services.dispatch.main
    import services.intake.main
    import services.notify.main  # noqa: F401 - registering every service's metrics

    defined = set(REGISTRY._names_to_collectors)
    referenced = referenced_metric_names()
    assert {"linkage_consumer_lag", "linkage_sla_cases", "linkage_http_request_duration_seconds_bucket"} <= referenced
    missing = sorted(m for m in referenced if not exported(defined, m))
    assert not missing, f"rules or dashboard use metrics nobody defines: {missing}"


def test_pod_monitor_scrapes_the_services_pods() -> None:
    """The PodMonitor's selector matches every service's pod template, on a container port of that name."""
    monitor = yaml.safe_load((ROOT / "deploy" / "monitoring" / "podmonitor.yaml").read_text(encoding="utf-8"))
    selector = monitor["spec"]["selector"]["matchLabels"]
    endpoint = monitor["spec"]["podMetricsEndpoints"][0]
    assert endpoint["path"] == "/metrics"
    for service in ("intake", "dispatch", "notify", "analytics"):
        docs = yaml.safe_load_all((ROOT / "deploy" / "k8s" / "base" / f"{service}.yaml").read_text(encoding="utf-8"))
        deployment = next(d for d in docs if d and d.get("kind") == "Deployment")
        template = deployment["spec"]["template"]
        assert selector.items() <= template["metadata"]["labels"].items(), service
        ports = {p.get("name") for c in template["spec"]["containers"] for p in c.get("ports", [])}
        assert endpoint["port"] in ports, service


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_monitoring_kustomization_renders() -> None:
    result = subprocess.run(
        ["kubectl", "kustomize", str(ROOT / "deploy" / "monitoring")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    objects = [d for d in yaml.safe_load_all(result.stdout) if d]
    kinds = {d["kind"]: d for d in objects}
    assert set(kinds) == {"ConfigMap", "PodMonitor", "PrometheusRule"}
    assert all(d["metadata"]["namespace"] == "linkage" for d in objects)
    assert kinds["ConfigMap"]["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert kinds["ConfigMap"]["data"]["grafana-dashboard.json"].strip() == DASHBOARD.read_text(encoding="utf-8").strip()
