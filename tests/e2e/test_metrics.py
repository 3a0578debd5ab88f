"""Prometheus metrics of the running services after a complaint went through: the exposition parses with
prometheus_client's own parser, /metrics answers without a redirect and without _created series, and the
request histograms, consumer lag, outbox backlog, dead-letter, SLA and last-success series are there. Every
metric name the alert rules and the Grafana dashboard use is exported by some service."""

from __future__ import annotations

import uuid

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.monitoring import exported, referenced_metric_names
from tests.support import Stack, wait_until

SERVICES = ("intake", "dispatch", "notify", "analytics")


def scrape(stack: Stack, service: str) -> tuple[set[str], list[Sample]]:
    """Family names and samples of one service's /metrics (asserting a direct 200)."""
    r = httpx.get(f"{stack.url(service)}/metrics", timeout=10, follow_redirects=False)
    assert r.status_code == 200, (service, r.status_code, r.headers.get("location"))
    families = list(text_string_to_metric_families(r.text))
    return {f.name for f in families}, [s for f in families for s in f.samples]


def named(samples: list[Sample], name: str, **labels: str) -> list[Sample]:
    return [s for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]


def file_complaint(stack: Stack) -> dict:
    body = {
        "call_id": f"call-metrics-{uuid.uuid4()}",
        "caller_phone": "13800138000",
        "text": f"建设路路灯不亮好几天了 {uuid.uuid4().hex[:6]}",
        "address": "成华区建设路",
        "kind": "投诉",
    }
    r = httpx.post(f"{stack.url('intake')}/api/v1/complaints", json=body, headers=stack.operator_headers, timeout=10)
    assert r.status_code == 201, r.text
    complaint: dict = r.json()
    return complaint


def case_for(stack: Stack, complaint_id: str) -> dict | None:
    r = httpx.get(f"{stack.url('dispatch')}/api/v1/cases", params={"complaint_id": complaint_id}, timeout=10)
    items = r.json()["items"]
    return items[0] if items else None


def test_metrics_after_a_complaint(stack: Stack) -> None:
    complaint = file_complaint(stack)
    case = wait_until(lambda: case_for(stack, complaint["id"]), message="case created")

    _, intake = scrape(stack, "intake")
    posted = named(intake, "linkage_http_request_duration_seconds_count", service="intake", route="/api/v1/complaints")
    assert any(s.labels["method"] == "POST" and s.labels["status"] == "201" and s.value >= 1 for s in posted)
    assert named(intake, "linkage_http_request_duration_seconds_bucket", route="/api/v1/complaints", le="+Inf")
    assert not [s for s in intake if s.name.startswith("linkage_http") and "metrics-" in s.labels.get("route", "")]
    backlog = named(intake, "linkage_outbox_backlog", service="intake")
    age = named(intake, "linkage_outbox_oldest_unsent_age_seconds", service="intake")
    assert len(backlog) == 1 and backlog[0].value >= 0 and len(age) == 1 and age[0].value >= 0
    assert named(intake, "linkage_last_success_timestamp_seconds", service="intake", task="outbox-relay")

    # the case detail was read through a templated route, never under its raw path
    httpx.get(f"{stack.url('dispatch')}/api/v1/cases/{case['id']}", timeout=10)

    def dispatch_ready() -> list[Sample] | None:
        _, samples = scrape(stack, "dispatch")
        lead = case["lead"] or "unassigned"
        opened = named(samples, "linkage_sla_cases", department=lead, level="open")
        return samples if opened and opened[0].value >= 1 else None

    dispatch = wait_until(dispatch_ready, timeout_s=45, interval_s=1, message="SLA gauges of the case's department")
    levels = {s.labels["level"] for s in named(dispatch, "linkage_sla_cases")}
    assert levels == {"open", "yellow", "red", "overdue"}
    routes = {s.labels["route"] for s in named(dispatch, "linkage_http_request_duration_seconds_count")}
    assert "/api/v1/cases/{case_id}" in routes and not any(case["id"] in route for route in routes)
    lag = [s for s in named(dispatch, "linkage_consumer_lag") if s.labels["group"].endswith("dispatch")]
    assert lag and all(s.value >= 0 for s in lag) and {"topic", "partition"} <= set(lag[0].labels)
    assert named(dispatch, "linkage_sla_timers_overdue_unfired")
    assert named(dispatch, "linkage_last_success_timestamp_seconds", service="dispatch", task="run_scanner")
    assert named(dispatch, "linkage_last_success_timestamp_seconds", service="dispatch", task="sla_metrics")
    dead = named(dispatch, "linkage_dead_letters", service="dispatch")
    assert any(s.labels["group"].endswith("dispatch") and s.value >= 0 for s in dead)


def test_every_metric_of_the_rules_and_dashboard_is_exported(stack: Stack) -> None:
    names: set[str] = set()
    for service in SERVICES:
        families, samples = scrape(stack, service)
        assert not [s.name for s in samples if s.name.endswith("_created")], service
        names |= families | {s.name for s in samples}
    missing = sorted(m for m in referenced_metric_names() if not exported(names, m))
    assert not missing, f"used by deploy/monitoring but exported by no service: {missing}"
