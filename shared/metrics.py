"""Prometheus metrics every service exports, and the code that keeps them current.

- ``linkage_http_request_duration_seconds{service,method,route,status}``: a histogram per route
  *template* (``/api/v1/cases/{case_id}``, never the raw path; unmatched paths are ``<unmatched>``);
- ``linkage_consumer_lag{group,topic,partition}``: records not yet consumed (the partition's high
  watermark minus the consumer's position), set by the consumer after every poll;
- ``linkage_outbox_backlog{service}`` and ``linkage_outbox_oldest_unsent_age_seconds{service}``:
  unsent outbox rows (not capped) and the age of the oldest, measured by :func:`store_metrics`
  independently of the relay (so a stuck relay shows as a growing age);
- ``linkage_dead_letters{service,group}``: dead letters not replayed yet (:func:`store_metrics`);
- ``linkage_last_success_timestamp_seconds{service,task}``: set by the outbox relay and the SLA
  timer scanner after every good pass (:func:`mark_success`).

The SLA gauges live with the SLA clock (``services.dispatch.sla.metrics``). ``/metrics`` is a plain
route (no redirect to ``/metrics/``) and exports no ``*_created`` series.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import Request, Response
from prometheus_client import REGISTRY, Gauge, Histogram, disable_created_metrics
from prometheus_client.exposition import choose_encoder
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.faults import is_infrastructure_error
from shared.logging import get_logger

if TYPE_CHECKING:
    from shared.app import ServiceRuntime

_disable_created: Callable[[], None] = disable_created_metrics  # prometheus_client leaves it untyped
_disable_created()  # no `_created` series: they double the series count and nobody graphs them

log = get_logger(__name__)

#: Seconds: from a few milliseconds (cached reads) to the 10 s request timeout clients use.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED = "<unmatched>"
#: Anything else a client sends is counted as ``OTHER`` (label values stay bounded).
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
REFRESH_INTERVAL_S = 15.0

REQUEST_DURATION = Histogram(
    "linkage_http_request_duration_seconds",
    "HTTP request duration by route template and status code",
    ["service", "method", "route", "status"],
    buckets=DURATION_BUCKETS,
)
CONSUMER_LAG = Gauge(
    "linkage_consumer_lag", "Records not yet consumed: high watermark minus position", ["group", "topic", "partition"]
)
OUTBOX_BACKLOG = Gauge("linkage_outbox_backlog", "Unsent outbox rows (not capped)", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "linkage_outbox_oldest_unsent_age_seconds", "Age of the oldest unsent outbox row (0 when none)", ["service"]
)
DEAD_LETTERS = Gauge("linkage_dead_letters", "Dead letters not replayed yet", ["service", "group"])
LAST_SUCCESS = Gauge(
    "linkage_last_success_timestamp_seconds",
    "Unix time of the last good pass of a background task",
    ["service", "task"],
)


def route_template(scope: Scope) -> str:
    """The matched route's path template (set by Starlette's router in ``scope["route"]``)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


class RequestMetrics:
    """ASGI middleware: observes every HTTP request's duration under its route template and status."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception that escapes every handler ends as a 500 from the server

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            method = scope.get("method", "")
            REQUEST_DURATION.labels(
                self.service, method if method in METHODS else "OTHER", route_template(scope), str(status)
            ).observe(time.perf_counter() - started)


async def metrics_endpoint(request: Request) -> Response:
    """The Prometheus exposition (text or OpenMetrics, as the scraper's Accept header asks)."""
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encoder(REGISTRY), media_type=content_type)


class ConsumerLag:
    """Keeps ``linkage_consumer_lag`` for the partitions one consumer owns (labels of revoked ones removed)."""

    def __init__(self, group: str) -> None:
        self.group = group
        self._labelled: set[TopicPartition] = set()

    async def update(self, consumer: AIOKafkaConsumer) -> None:
        assigned = set(consumer.assignment())
        for tp in assigned:
            highwater = consumer.highwater(tp)
            if highwater is None:  # not fetched yet
                continue
            try:
                position = await asyncio.wait_for(consumer.position(tp), timeout=0.5)
            except Exception:  # noqa: BLE001 - revoked or being reset: measured on the next poll
                continue
            CONSUMER_LAG.labels(self.group, tp.topic, str(tp.partition)).set(max(0, highwater - position))
            self._labelled.add(tp)
        for tp in self._labelled - assigned:
            self._forget(tp)

    def clear(self) -> None:
        for tp in list(self._labelled):
            self._forget(tp)

    def _forget(self, tp: TopicPartition) -> None:
        with contextlib.suppress(KeyError):
            CONSUMER_LAG.remove(self.group, tp.topic, str(tp.partition))
        self._labelled.discard(tp)


def mark_success(service: str, task: str) -> None:
    LAST_SUCCESS.labels(service, task).set(time.time())


_OUTBOX_BACKLOG = text(
    "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0) FROM outbox WHERE sent_at IS NULL"
)
_DEAD_LETTERS = text(
    "SELECT consumer_group, count(*) FILTER (WHERE replayed_at IS NULL) FROM dead_letters GROUP BY consumer_group"
)


async def refresh_store_metrics(runtime: ServiceRuntime, known_groups: set[str]) -> None:
    """One measurement of the outbox backlog and the unreplayed dead letters of this service's schema."""
    async with runtime.engine.connect() as conn:
        backlog, oldest = (await conn.execute(_OUTBOX_BACKLOG)).one()
        dead = {str(group): int(count) for group, count in (await conn.execute(_DEAD_LETTERS)).all()}
    OUTBOX_BACKLOG.labels(runtime.name).set(int(backlog))
    OUTBOX_OLDEST_AGE.labels(runtime.name).set(float(oldest))
    groups = known_groups | {runtime.settings.group(spec.group) for spec in runtime.consumer_specs} | set(dead)
    for group in groups:
        DEAD_LETTERS.labels(runtime.name, group).set(dead.get(group, 0))
    known_groups.update(groups)


async def store_metrics(runtime: ServiceRuntime) -> None:
    """Background job of every service: refresh the outbox and dead-letter gauges every 15 s. While the
    database is away the gauges keep their last value (a bug raises: the supervisor restarts the job)."""
    known_groups: set[str] = set()
    while True:
        try:
            await refresh_store_metrics(runtime, known_groups)
        except Exception as exc:
            if not is_infrastructure_error(exc):
                raise
            log.warning("store metrics: database unavailable", error=repr(exc)[:300])
        else:
            mark_success(runtime.name, "store_metrics")
        await asyncio.sleep(REFRESH_INTERVAL_S)
