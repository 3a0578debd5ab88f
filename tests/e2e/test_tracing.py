"""One trace from the hotline request through the outbox and Kafka into dispatch and on to notify's delivery,
checked in the envelopes and in the spans the services export to a local OTLP/HTTP receiver."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid

import asyncpg
import httpx

from shared.db import sync_url
from tests.otlp import OtlpReceiver, ReceivedSpan
from tests.support import Infra, Stack, distinct_spot, wait_until


async def _traceparents(infra: Infra, schema: str, key: str) -> list[str]:
    conn = await asyncpg.connect(sync_url(infra.database_url))
    try:
        rows = await conn.fetch(f"SELECT headers FROM {schema}.outbox WHERE key = $1 ORDER BY seq", key)
    finally:
        await conn.close()
    found = []
    for row in rows:
        headers = json.loads(row["headers"]) if isinstance(row["headers"], str) else row["headers"]
        found += [v for k, v in headers if k == "traceparent"]
    return found


def _file_complaint(stack: Stack, traceparent: str) -> httpx.Response:
    headers = {"traceparent": traceparent, **stack.operator_headers}
    return httpx.post(
        f"{stack.url('intake')}/api/v1/complaints",
        headers=headers,
        timeout=10,
        json={
            "call_id": f"trace-{uuid.uuid4()}",
            "caller_phone": "13900001111",
            "kind": "投诉",
            "text": f"万年场路{secrets.randbelow(900) + 100}号附近下水道堵塞返臭",
            "matter_code": "SZ005",
            **distinct_spot(),  # never merged into another test's case (a merged one sends no receipt)
        },
    )


def _case_of(stack: Stack, complaint_id: str) -> str:
    def case_id() -> str | None:
        items = httpx.get(f"{stack.url('dispatch')}/api/v1/cases", params={"complaint_id": complaint_id}).json()
        return items["items"][0]["id"] if items["items"] else None

    return wait_until(case_id, message="case opened")


def test_a_complaints_trace_reaches_its_case_events(stack: Stack, infra: Infra) -> None:
    trace_id = secrets.token_hex(16)
    r = _file_complaint(stack, f"00-{trace_id}-{secrets.token_hex(8)}-01")
    assert r.status_code == 201, r.text
    assert r.headers["traceparent"].split("-")[1] == trace_id  # the server span continues the caller's trace
    assert r.headers["traceresponse"] == r.headers["traceparent"]
    complaint_id = r.json()["id"]
    published = asyncio.run(_traceparents(infra, "intake", complaint_id))
    assert published and all(tp.split("-")[1] == trace_id for tp in published)

    cid = _case_of(stack, complaint_id)
    followed = asyncio.run(_traceparents(infra, "dispatch", cid))
    assert len(followed) >= 2  # created + routed
    assert all(tp.split("-")[1] == trace_id for tp in followed), followed


def _complete(receiver: OtlpReceiver, trace_id: str, root_parent: str) -> list[ReceivedSpan] | None:
    """The trace once notify's delivery and its event are in it and every span's parent has arrived too."""
    spans = receiver.trace(trace_id)
    ids = {s.span_id for s in spans} | {root_parent}
    notify = {(s.kind, w) for s in spans if s.service == "linkage-notify" for w in s.name.split()}
    delivered = {("internal", "deliver"), ("producer", "send")} <= notify  # sent, and the delivery event published
    return spans if delivered and all(s.parent_span_id in ids for s in spans) else None


def test_one_trace_from_intake_through_dispatch_to_notify_is_exported(
    stack: Stack, infra: Infra, otlp_receiver: OtlpReceiver
) -> None:
    trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    r = _file_complaint(stack, f"00-{trace_id}-{caller_span}-01")
    assert r.status_code == 201, r.text
    cid = _case_of(stack, r.json()["id"])

    spans = wait_until(
        lambda: _complete(otlp_receiver, trace_id, caller_span),
        timeout_s=60,
        message=f"the exported trace {trace_id} to reach notify's delivery",
    )
    by_service: dict[str, list[ReceivedSpan]] = {}
    for span in spans:
        by_service.setdefault(span.service, []).append(span)
    # (kind, word of the name): "POST /api/v1/complaints", "INSERT linkage", "<topic> send", "process <group>"
    kinds = {service: {(s.kind, w) for s in found for w in s.name.split()} for service, found in by_service.items()}

    # intake: the FastAPI server span continues the caller's span; the Kafka send of its outbox row is in it
    (server,) = [s for s in by_service["linkage-intake"] if s.kind == "server"]
    assert server.parent_span_id == caller_span and server.name == "POST /api/v1/complaints"
    assert ("producer", "send") in kinds["linkage-intake"]  # aiokafka, from the outbox relay
    # dispatch: aiokafka receive, the consumer's batch, the case opened inside the complaint's trace
    assert {("consumer", "receive"), ("consumer", "process"), ("internal", "open")} <= kinds["linkage-dispatch"]
    assert ("client", "INSERT") in kinds["linkage-dispatch"]  # SQLAlchemy
    # notify: the case event consumed, the receipt sent, the delivery event published, all in the same trace
    assert {("consumer", "process"), ("internal", "deliver"), ("producer", "send")} <= kinds["linkage-notify"]

    # the delivery event on linkage.notify.deliveries.v1 carries the trace as well
    delivered = wait_until(lambda: asyncio.run(_traceparents(infra, "notify", cid)), message="delivery event")
    assert all(tp.split("-")[1] == trace_id for tp in delivered), delivered


def test_an_outgoing_http_call_carries_the_trace_to_the_next_service(stack: Stack, otlp_receiver: OtlpReceiver) -> None:
    """notify asks dispatch about a key it does not know (httpx, instrumented): dispatch's server span is a
    child of notify's client span."""
    trace_id = secrets.token_hex(16)
    headers = {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01", "X-API-Key": f"k{secrets.token_hex(12)}"}
    r = httpx.get(f"{stack.url('notify')}/api/v1/deliveries", headers=headers, timeout=10)
    assert r.status_code == 401, r.text

    def linked() -> tuple[ReceivedSpan, ReceivedSpan] | None:
        spans = otlp_receiver.trace(trace_id)
        clients = [s for s in spans if s.service == "linkage-notify" and s.kind == "client" and s.name == "GET"]
        servers = [s for s in spans if s.service == "linkage-dispatch" and s.kind == "server"]
        return (clients[0], servers[0]) if clients and servers else None

    client, server = wait_until(linked, timeout_s=30, message="notify's whoami call and dispatch's answer")
    assert server.parent_span_id == client.span_id
    assert server.name == "GET /api/v1/whoami"
