"""Notify's templates, masking, message composition and channel adapters (no database, no network)."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from services.notify.config import NotifySettings
from services.notify.contact.models import Contact
from services.notify.delivery.adapters import (
    Adapters,
    DevelopmentSink,
    SmsAdapter,
    WebhookAdapter,
    WeChatTemplateAdapter,
)
from services.notify.message import templates as t
from services.notify.message.models import Message
from services.notify.message.service import compose
from services.notify.survey.service import parse_answer
from shared.catalog import default_catalog
from shared.events.cases import CaseEventV1, case_event
from shared.events.complaints import Reporter

SETTINGS = NotifySettings()
AT = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def _event(action: str, **fields: Any) -> CaseEventV1:
    base: dict[str, Any] = {"case_id": "01CASE", "tracking_code": "CH2611240001", "to_state": "x", "at": AT}
    base.update(fields)
    return case_event(action, **base)


def _contact(channel: str = "sms", recipient: str = "13800138000") -> Contact:
    return Contact(
        case_id="01CASE",
        tracking_code="CH2611240001",
        channel=channel,
        recipient=recipient,
        state="replied",
        survey_round=1,
    )


def _one(action: str, contact: Contact | None = None, **fields: Any) -> dict[str, Any]:
    rows = compose(
        _event(action, **fields),
        "ev-1",
        contact or _contact(),
        settings=SETTINGS,
        base_url="https://12345.example.cn",
        survey_token="tok123" if action == "replied" else None,
    )
    assert len(rows) == 1, rows
    return rows[0]


def test_every_template_starts_with_the_prefix() -> None:
    assert all(body.startswith("【12345】") for body in t.TEMPLATES.values())


def test_masking() -> None:
    assert t.mask_phone("13800138000") == "138****8000"
    assert t.mask_recipient("sms", "13800138000") == "138****8000"
    assert t.mask_recipient("wechat", "oABCDEFGHIJKLMN1234") == "oABC****1234"
    assert "GHIJ" not in t.mask_recipient("wechat", "oABCDEFGHIJKLMN1234")
    assert t.mask_recipient("webhook", "CGJ") == "CGJ"
    assert t.mask_phone("110") == "*10"


def test_shanghai_time() -> None:
    assert t.shanghai_time("2026-11-30T10:00:00+00:00") == "2026年11月30日 18:00"
    assert t.shanghai_time(datetime(2026, 12, 31, 16, 30, tzinfo=UTC)) == "2027年1月1日 00:30"
    assert t.shanghai_time(None) == "" and t.shanghai_time("not a date") == ""


def test_receipt_keeps_one_per_case_key() -> None:
    row = _one("created", reporter=Reporter(phone="13800138000"))
    assert row["template"] == "receipt" and row["dedupe_key"] == "receipt:01CASE"
    assert "CH2611240001" in row["body"] and row["status"] == "pending"


def test_transferred_names_the_number() -> None:
    body = _one("transferred", details={"service": "119"})["body"]
    assert "已转119" in body and "请直接拨打119" in body


def test_answered_includes_the_answer_text() -> None:
    body = _one("answered", details={"text": "新生儿医保在出生后三个月内办理参保。"})["body"]
    assert "新生儿医保在出生后三个月内办理参保" in body
    assert "已答复" in _one("answered")["body"]


def test_dispatched_names_the_department_and_the_deadline() -> None:
    dept = default_catalog().departments[-1]
    row = _one("dispatched", lead=dept.code, details={"deadline_at": "2026-11-30T10:00:00+00:00"})
    assert f"已派至{dept.name}" in row["body"] and "2026年11月30日 18:00" in row["body"]
    assert row["dedupe_key"] == "dispatched:01CASE:ev-1"


def test_replied_asks_for_the_survey_with_the_link() -> None:
    body = _one("replied", details={"text": "已更换路灯灯泡，经夜间复查照明恢复正常。" * 5})["body"]
    assert "请回复 1 满意 2 基本满意 3 不满意" in body
    assert "https://12345.example.cn/survey/tok123" in body
    assert "已更换路灯灯泡" in body and "…" not in body  # summary cut after a whole sentence
    assert "已办结：已更换路灯灯泡，经夜间复查照明恢复正常。" in body and "恢复正常。请回复" in body


def test_a_summary_without_sentence_ends_is_cut_with_an_ellipsis() -> None:
    assert t.shorten("路面" * 50, 10) == "路面路面路面路面路…"
    assert t.shorten("已处理。路面已修复，恢复通行。" + "后续" * 40, 20) == "已处理。路面已修复，恢复通行"


def test_replied_without_a_token_has_no_link_and_never_the_tracking_code_as_one() -> None:
    (row,) = compose(
        _event("replied", details={"text": "已处理"}),
        "ev-1",
        _contact(),
        settings=SETTINGS,
        base_url="https://12345.example.cn",
    )
    assert row["template"] == "replied" and "请回复 1 满意" in row["body"] and "/survey" not in row["body"]


def test_merged_extension_reopened_closed() -> None:
    assert "已与查询码CH2611200009合并办理" in _one("merged", details={"master_tracking_code": "CH2611200009"})["body"]
    assert compose(_event("merged"), "e", _contact(), settings=SETTINGS) == []  # nothing sensible to say
    ext = _one("extension_approved", details={"deadline_at": "2026-12-10T09:30:00Z", "days": 5})["body"]
    assert "2026年12月10日 17:30" in ext
    assert "重办" in _one("reopened")["body"]
    assert "办结" in _one("closed", from_state="surveyed")["body"]
    assert compose(_event("closed", from_state="answered"), "e", _contact(), settings=SETTINGS) == []


def test_no_citizen_message_without_a_contact_or_for_other_actions() -> None:
    anonymous = Contact(case_id="01CASE", tracking_code="C", channel=None, recipient=None, state="x")
    assert compose(_event("replied"), "e", anonymous, settings=SETTINGS) == []
    assert compose(_event("signed"), "e", _contact(), settings=SETTINGS) == []


def test_urge_and_supervise_go_to_department_webhooks() -> None:
    center = default_catalog().center().code
    urge = compose(
        _event("urged", lead="CGJ", matter_code="SZ003", details={"level": "yellow", "to": ["CGJ"]}),
        "e1",
        None,
        settings=SETTINGS,
    )
    assert [(r["channel"], r["recipient"], r["template"]) for r in urge] == [("webhook", "CGJ", "urge")]
    assert "催办" in urge[0]["body"] and "路灯不亮" in urge[0]["body"]
    sup = compose(
        _event("supervised", lead="CGJ", details={"level": "red", "to": ["CGJ:head", "center:center"]}),
        "e2",
        _contact(),
        settings=SETTINGS,
    )
    assert [r["recipient"] for r in sup] == ["CGJ", center]
    assert len({r["dedupe_key"] for r in sup}) == 2 and all("督办" in r["body"] for r in sup)
    manual = compose(_event("urged", lead="S01", reason="请今天内处理"), "e3", None, settings=SETTINGS)
    assert manual[0]["recipient"] == "S01" and "请今天内处理" in manual[0]["body"]


@pytest.mark.parametrize(
    "reason",
    [
        "unsatisfied again after reopening (重办后仍不满意)",
        "超期督办: the time limit has passed",
        "群众反映强烈，已多次来电。请街道会同城管局立即到现场核实处理，今日内反馈结果，不得推诿扯皮，逾期将通报。",
        "请" + "尽快" * 60,
        None,
    ],
)
@pytest.mark.parametrize("action", ["urged", "supervised"])
def test_urge_and_supervise_notices_are_whole_chinese_sentences_in_one_sms(action: str, reason: str | None) -> None:
    (row,) = compose(
        _event(action, lead="CGJ", matter_code="SZ003", reason=reason, deadline=AT),
        "e",
        None,
        settings=SETTINGS,
    )
    body = row["body"]
    assert len(body) <= t.SMS_CHARS, body
    assert body.endswith("。") and "…" not in body, body
    assert not re.search(r"[A-Za-z]{3,}", body), body
    assert all(s.endswith(("。", "！", "？", "；")) for s in t.sentences(body)), body
    if reason and reason.startswith("unsatisfied"):
        assert "重办后市民仍不满意。" in body
    if reason and reason.startswith("群众"):
        assert "群众反映强烈，已多次来电。" in body and "请街道" not in body


def test_unmerged_tells_the_citizen_the_case_is_handled_on_its_own() -> None:
    body = _one("unmerged")["body"]
    assert body.startswith("【12345】") and "恢复单独办理" in body


@pytest.mark.parametrize(
    ("raw", "result"),
    [
        ("1", "满意"),
        ("2", "基本满意"),
        ("3", "不满意"),
        (3, "不满意"),
        (" 满意。", "满意"),
        ("基本满意", "基本满意"),
        ("4", None),
        ("", None),
        (True, None),
        (None, None),
        ("很满意", None),
    ],
)
def test_parse_answer(raw: object, result: str | None) -> None:
    assert parse_answer(raw) == result


def _message(channel: str, recipient: str = "13800138000") -> Message:
    return Message(
        id="01MSG",
        dedupe_key="k",
        case_id="01CASE",
        tracking_code="C1",
        channel=channel,
        recipient=recipient,
        template="receipt",
        body="【12345】您好",
        status="pending",
        attempts=1,
    )


def _client(handler: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def test_sms_adapter_classifies_provider_answers() -> None:
    seen: list[dict[str, Any]] = []

    def provider(status: int) -> Any:
        def handle(request: httpx.Request) -> httpx.Response:
            seen.append(json.loads(request.content))
            return httpx.Response(status, json={})

        return handle

    async def run(status: int) -> str:
        async with _client(provider(status)) as client:
            return (await SmsAdapter(client, "http://sms.test/send").send(_message("sms"))).status

    assert asyncio.run(run(200)) == "sent"
    assert asyncio.run(run(503)) == "retry" and asyncio.run(run(429)) == "retry"
    assert asyncio.run(run(400)) == "failed"
    assert seen[0] == {"phone": "13800138000", "content": "【12345】您好", "sign": "12345", "client_ref": "01MSG"}


def test_sms_adapter_network_error_is_retried() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async def run() -> str:
        async with _client(down) as client:
            return (await SmsAdapter(client, "http://sms.test/send").send(_message("sms"))).status

    assert asyncio.run(run()) == "retry"


def test_wechat_adapter_reads_errcode() -> None:
    def provider(errcode: int) -> Any:
        def handle(request: httpx.Request) -> httpx.Response:
            assert request.url.params["access_token"] == "tok"
            assert json.loads(request.content)["touser"] == "oOPENID"
            return httpx.Response(200, json={"errcode": errcode, "errmsg": "x"})

        return handle

    async def run(errcode: int) -> str:
        async with _client(provider(errcode)) as client:
            adapter = WeChatTemplateAdapter(client, "http://wx.test/send", access_token="tok")
            return (await adapter.send(_message("wechat", "oOPENID"))).status

    assert asyncio.run(run(0)) == "sent"
    assert asyncio.run(run(-1)) == "retry"
    assert asyncio.run(run(43004)) == "failed"  # user unsubscribed


def test_adapter_choice_defaults_to_the_development_sink() -> None:
    async def run() -> None:
        plain = Adapters(NotifySettings())
        assert isinstance(plain.for_message(_message("sms")), DevelopmentSink)
        assert isinstance(plain.for_message(_message("webhook", "CGJ")), DevelopmentSink)
        assert (await plain.for_message(_message("wechat")).send(_message("wechat"))).status == "sent"
        await plain.aclose()
        configured = Adapters(
            NotifySettings(
                sms_url="http://sms.test",
                wechat_api_url="http://wx.test",
                notify_webhook_urls={"CGJ": "http://cgj.test/hook"},
            )
        )
        assert isinstance(configured.for_message(_message("sms")), SmsAdapter)
        assert isinstance(configured.for_message(_message("wechat")), WeChatTemplateAdapter)
        assert isinstance(configured.for_message(_message("webhook", "CGJ")), WebhookAdapter)
        assert isinstance(configured.for_message(_message("webhook", "HBJ")), DevelopmentSink)
        await configured.aclose()

    asyncio.run(run())
