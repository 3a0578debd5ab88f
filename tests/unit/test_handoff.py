"""Emergency hand-off pieces without a database: signatures, adapter choice, the webhook adapter against a mock
platform, the document, the alert texts, and the citizen's first message for a transferred case."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from services.dispatch.case.models import Case
from services.dispatch.handoff import signing
from services.dispatch.handoff.adapters import WebhookAdapter, encode
from services.dispatch.handoff.config import HandoffSettings
from services.dispatch.handoff.models import Handoff
from services.dispatch.handoff.schemas import HandoffOut
from services.dispatch.handoff.service import backoff, build_document, center_name
from services.notify.config import NotifySettings
from services.notify.contact.models import Contact
from services.notify.message.service import compose
from shared.events.cases import case_event
from shared.events.complaints import Reporter

AT = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
SECRET = "test-handoff-secret"


def test_signature_round_trip_and_refusals() -> None:
    body = b'{"a": 1}'
    headers = signing.signed_headers(SECRET, body, now=1_000_000)
    stamp, sig = headers[signing.TIMESTAMP_HEADER], headers[signing.SIGNATURE_HEADER]
    assert sig.startswith("sha256=")
    assert signing.verify(SECRET, stamp, sig, body, window_s=300, now=1_000_010) is None
    assert signing.verify(SECRET, stamp, sig.removeprefix("sha256="), body, window_s=300, now=1_000_010) is None
    assert signing.verify(SECRET, stamp, sig, b'{"a": 2}', window_s=300, now=1_000_010) == "bad signature"
    assert signing.verify("other", stamp, sig, body, window_s=300, now=1_000_010) == "bad signature"
    assert "window" in (signing.verify(SECRET, stamp, sig, body, window_s=300, now=1_000_400) or "")
    assert "missing" in (signing.verify(SECRET, None, sig, body, window_s=300) or "")
    assert "unix seconds" in (signing.verify(SECRET, "yesterday", sig, body, window_s=300) or "")
    assert "not configured" in (signing.verify("", stamp, sig, body, window_s=300) or "")


def test_adapter_choice_never_fakes_an_acknowledgement_in_production() -> None:
    assert HandoffSettings().resolved_adapter(demo_mode=True) == "sink"
    assert HandoffSettings().resolved_adapter(demo_mode=False) == "none"
    hooked = HandoffSettings(handoff_webhook_url="https://platform.example/intake")
    assert hooked.resolved_adapter(demo_mode=False) == "webhook"
    assert HandoffSettings(handoff_adapter="sink").resolved_adapter(demo_mode=False) == "none"
    assert HandoffSettings(handoff_adapter="none").resolved_adapter(demo_mode=True) == "none"


def test_backoff_doubles_and_is_capped() -> None:
    s = HandoffSettings(handoff_backoff_s=1.0, handoff_backoff_max_s=8.0)
    delays = [backoff(s, n).total_seconds() for n in (1, 2, 3, 4, 10)]
    assert 0.9 <= delays[0] <= 1.1 and 1.8 <= delays[1] <= 2.2 and 3.6 <= delays[2] <= 4.4
    assert 7.2 <= delays[3] <= 8.8 and 7.2 <= delays[4] <= 8.8


def _case() -> Case:
    return Case(
        id="01CASE00000000000000000000",
        tracking_code="261124ABCDEF",
        complaint_id="01COMPLAINT000000000000000",
        state="transferred",
        channel="hotline",
        kind="求助",
        text="楼下厨房着火了，浓烟很大",
        address="成华区建设路12号",
        lon=104.08,
        lat=30.66,
        street_code="S01",
        community_code=None,
        grid_code=None,
        reporter={"phone": "13800138000", "name": "张先生", "user_id": None},
        received_at=AT,
    )


def _handoff(**fields: Any) -> Handoff:
    values: dict[str, Any] = {
        "id": "01HANDOFF0000000000000000A",
        "case_id": "01CASE00000000000000000000",
        "tracking_code": "261124ABCDEF",
        "service": "119",
        "reason": "紧急警情：火灾，转119 消防",
        "state": "pending",
        "adapter": None,
        "alert_level": 1,
        "escalations": 0,
        "attempts": 1,
        "next_attempt_at": AT,
        "ack_due_at": AT + timedelta(minutes=3),
        "last_error": None,
        "transferred_at": AT,
        "sent_at": None,
        "receipt_id": None,
        "acknowledged_at": None,
        "acknowledged_by": None,
    }
    values.update(fields)
    return Handoff(**values)


def test_document_carries_what_the_platform_needs() -> None:
    doc = build_document(_handoff(), _case(), base_url="http://dispatch.example/", now=AT)
    assert doc["schema"] == "cn.linkage.handoff.v1" and doc["service"] == "119"
    assert doc["service_name"] == "119消防救援指挥中心" and doc["text"].startswith("楼下厨房着火")
    assert doc["reporter"] == {"phone": "13800138000", "name": "张先生"}
    assert doc["location"] == {"lon": 104.08, "lat": 30.66} and doc["place"]["street_code"] == "S01"
    assert doc["ack_url"] == "http://dispatch.example/api/v1/handoffs/01HANDOFF0000000000000000A/ack"
    json.loads(encode(doc))  # JSON all the way


def test_webhook_adapter_signs_and_reads_the_answer() -> None:
    seen: list[httpx.Request] = []
    answers = iter(
        [
            httpx.Response(503, text="busy"),
            httpx.Response(202, json={"status": "queued"}),
            httpx.Response(200, json={"receipt_id": "JQ-2026-0001", "handled_by": "119消防救援指挥中心"}),
        ]
    )

    def platform(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return next(answers)

    settings = HandoffSettings(handoff_webhook_url="https://platform.example/intake", handoff_webhook_secret=SECRET)

    async def run() -> list[Any]:
        client = httpx.AsyncClient(transport=httpx.MockTransport(platform))
        adapter = WebhookAdapter(settings, client)
        try:
            return [await adapter.send("01HANDOFF", {"n": i}) for i in range(3)]
        finally:
            await adapter.aclose()

    failed, taken, acked = asyncio.run(run())
    assert not failed.ok and failed.error is not None and failed.error.startswith("HTTP 503")
    assert taken.ok and not taken.acknowledged and taken.receipt_id is None
    assert acked.ok and acked.acknowledged and acked.receipt_id == "JQ-2026-0001"
    assert acked.handled_by == "119消防救援指挥中心"
    for request in seen:
        assert request.headers["Idempotency-Key"] == "01HANDOFF"
        why = signing.verify(
            SECRET,
            request.headers[signing.TIMESTAMP_HEADER],
            request.headers[signing.SIGNATURE_HEADER],
            request.content,
            window_s=60,
        )
        assert why is None


def test_webhook_adapter_refuses_to_send_unsigned() -> None:
    settings = HandoffSettings(handoff_webhook_url="https://platform.example/intake")
    adapter = WebhookAdapter(settings, httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200))))
    outcome = asyncio.run(adapter.send("01HANDOFF", {}))
    asyncio.run(adapter.aclose())
    assert not outcome.ok and "SECRET" in (outcome.error or "")


def test_alert_texts_are_chinese() -> None:
    out = HandoffOut.model_validate(_handoff(state="pending", attempts=3, last_error="HTTP 503: busy"))
    assert out.center == "119消防救援指挥中心" and out.alert_name == "一级"
    assert out.status_text == "推送119消防救援指挥中心失败3次，正在重试，请电话核实"
    sent = HandoffOut.model_validate(_handoff(state="sent", sent_at=AT))
    assert sent.status_text == "已推送至119消防救援指挥中心，等待接警确认" and sent.state_name == "已推送，待确认"
    done = HandoffOut.model_validate(
        _handoff(state="acknowledged", acknowledged_at=AT, acknowledged_by="119消防救援指挥中心", alert_level=2)
    )
    assert done.status_text == "119消防救援指挥中心已确认接警" and not done.overdue and done.alert_name == "二级"
    assert center_name("110") == "110指挥中心"


def _contact() -> Contact:
    return Contact(
        case_id="01CASE", tracking_code="CH2611240001", channel="sms", recipient="13800138000", state="accepted"
    )


def test_first_message_of_an_emergency_says_where_it_went() -> None:
    created = case_event(
        "created",
        case_id="01CASE",
        tracking_code="CH2611240001",
        to_state="accepted",
        at=AT,
        reporter=Reporter(phone="13800138000"),
        details={"transfer_to": "110"},
    )
    rows = compose(created, "ev-1", _contact(), settings=NotifySettings())
    assert len(rows) == 1 and rows[0]["dedupe_key"] == "receipt:01CASE"
    body = rows[0]["body"]
    assert body.startswith("【12345】您反映的情况属于紧急警情，已于2026年11月24日 10:00转交110指挥中心处置")
    assert "按时限办理" not in body and "CH2611240001" in body
    transferred = case_event(
        "transferred",
        case_id="01CASE",
        tracking_code="CH2611240001",
        from_state="accepted",
        to_state="transferred",
        at=AT,
        details={"service": "110"},
    )
    assert compose(transferred, "ev-2", _contact(), settings=NotifySettings()) == []  # said once, first
