"""Metrics without infrastructure: route-template histograms, /metrics without redirect, no _created series,
consumer lag bookkeeping, SLA gauges that drop to 0 instead of going stale."""

from __future__ import annotations

import asyncio

from aiokafka import TopicPartition
from fastapi import APIRouter
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from services.dispatch.sla.metrics import SLA_CASES, publish
from shared.app import create_service_app
from shared.metrics import CONSUMER_LAG, ConsumerLag
from shared.settings import Settings


def samples(body: str) -> list[Sample]:
    return [s for family in text_string_to_metric_families(body) for s in family.samples]


def test_request_histogram_uses_the_route_template_and_metrics_does_not_redirect() -> None:
    router = APIRouter()

    @router.get("/things/{thing_id}")
    async def thing(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    app = create_service_app("unitmetrics", routers=[router], settings=Settings())
    client = TestClient(app)  # no lifespan: these routes need no database
    assert client.get("/things/41").status_code == 200
    assert client.get("/things/42").status_code == 200
    assert client.get("/things/not-a-number").status_code == 422
    assert client.get("/no/such/path").status_code == 404
    assert client.request("BREW", "/no/such/path").status_code in (404, 405)

    r = client.get("/metrics", follow_redirects=False)
    assert r.status_code == 200, r.headers
    assert r.headers["content-type"].startswith("text/plain")
    found = samples(r.text)
    assert not [s.name for s in found if s.name.endswith("_created")]
    counts = {
        (s.labels["route"], s.labels["status"]): s.value
        for s in found
        if s.name == "linkage_http_request_duration_seconds_count"
        and s.labels["service"] == "unitmetrics"
        and s.labels["method"] == "GET"
    }
    assert counts[("/things/{thing_id}", "200")] == 2
    assert counts[("/things/{thing_id}", "422")] == 1
    assert counts[("<unmatched>", "404")] == 1
    assert not any("/things/41" in route for route, _ in counts)
    methods = {s.labels["method"] for s in found if s.name == "linkage_http_request_duration_seconds_count"}
    assert "BREW" not in methods and "OTHER" in methods
    buckets = [
        s
        for s in found
        if s.name == "linkage_http_request_duration_seconds_bucket" and s.labels.get("route") == "/things/{thing_id}"
    ]
    assert buckets and all(float(s.labels["le"]) > 0 for s in buckets)

    om = client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert om.status_code == 200 and om.headers["content-type"].startswith("application/openmetrics-text")
    assert om.text.rstrip().endswith("# EOF")


class FakeConsumer:
    def __init__(self, positions: dict[TopicPartition, int], highwaters: dict[TopicPartition, int | None]) -> None:
        self.positions = positions
        self.highwaters = highwaters

    def assignment(self) -> set[TopicPartition]:
        return set(self.positions)

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.highwaters[tp]

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]


def lag_of(group: str) -> dict[tuple[str, str], float]:
    return {
        (s.labels["topic"], s.labels["partition"]): s.value
        for metric in CONSUMER_LAG.collect()
        for s in metric.samples
        if s.labels["group"] == group
    }


def test_consumer_lag_is_highwater_minus_position_and_forgets_revoked_partitions() -> None:
    a, b, c = TopicPartition("t", 0), TopicPartition("t", 1), TopicPartition("t", 2)
    lag = ConsumerLag("unit-lag")
    consumer = FakeConsumer({a: 10, b: 5, c: 0}, {a: 15, b: 5, c: None})
    asyncio.run(lag.update(consumer))
    assert lag_of("unit-lag") == {("t", "0"): 5, ("t", "1"): 0}  # c not fetched yet: no value, not 0
    asyncio.run(lag.update(FakeConsumer({b: 7}, {b: 9})))
    assert lag_of("unit-lag") == {("t", "1"): 2}  # a and c revoked: their series are gone
    lag.clear()
    assert lag_of("unit-lag") == {}


def test_sla_gauges_drop_to_zero_for_departments_without_open_cases() -> None:
    known: set[str] = set()
    publish({"unit-dept": {"open": 3, "yellow": 1, "red": 1, "overdue": 2}}, known)

    def value(level: str) -> float:
        return SLA_CASES.labels("unit-dept", level)._value.get()

    assert [value(level) for level in ("open", "yellow", "red", "overdue")] == [3, 1, 1, 2]
    publish({}, known)
    assert [value(level) for level in ("open", "yellow", "red", "overdue")] == [0, 0, 0, 0]
