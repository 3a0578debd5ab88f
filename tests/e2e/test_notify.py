"""Notify through the running system: messages for a case's life, survey answers driving dispatch."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from typing import Any

import httpx
import pytest

from services.dispatch.seeds.demo import seed
from shared.catalog import default_catalog
from tests.support import Infra, Stack, distinct_spot, wait_until

SURVEY_ASK = "请回复 1 满意 2 基本满意 3 不满意"


@pytest.fixture(scope="module")
def keys(infra: Infra) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = asyncio.run(seed(infra.settings()))["api_keys"]
    return out


def _messages(stack: Stack, code: str, template: str | None = None) -> list[dict[str, Any]]:
    r = httpx.get(f"{stack.url('notify')}/dev/messages", params={"tracking_code": code}, timeout=10)
    assert r.status_code == 200, r.text
    return [m for m in r.json() if template is None or m["template"] == template]


def _track(stack: Stack, code: str) -> dict[str, Any]:
    r = httpx.get(f"{stack.url('dispatch')}/api/v1/track/{code}", timeout=10)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def _answer(stack: Stack, **body: Any) -> httpx.Response:
    return httpx.post(f"{stack.url('notify')}/api/v1/surveys/answers", json=body, timeout=10)


def _replied_case(stack: Stack, keys: dict[str, dict[str, str]], phone: str) -> dict[str, Any]:
    """File a complaint on intake, drive the case with dispatch's APIs to 办结 (replied)."""
    url = stack.url("dispatch")
    dk = {"X-API-Key": keys["dispatcher"]["ZX"]}
    tag = uuid.uuid4().hex[:6]
    r = httpx.post(
        f"{stack.url('intake')}/api/v1/complaints",
        headers=stack.operator_headers,
        timeout=10,
        json={
            "call_id": f"call-{uuid.uuid4()}",
            "caller_phone": phone,
            "kind": "投诉",
            "matter_code": "SZ003",
            "text": f"双林路{tag}号小区门口路灯不亮已经一周了，夜里太黑",
            "address": f"成华区双林路{tag}号",
            **distinct_spot(),  # its own place: never merged into another test's case
        },
    )
    assert r.status_code == 201, r.text
    complaint = r.json()

    def opened() -> dict[str, Any] | None:
        items = httpx.get(f"{url}/api/v1/dispatch/cases", headers=dk, params={"complaint_id": complaint["id"]}).json()[
            "items"
        ]
        return items[0] if items else None

    found = wait_until(opened, message="case opened")
    assert found is not None
    case: dict[str, Any] = found
    assert case["state"] != "merged", case
    if case["state"] == "triage":
        r = httpx.post(f"{url}/api/v1/dispatch/cases/{case['id']}/dispatch", headers=dk, json={"lead": "CGJ"})
        assert r.status_code == 200, r.text
        case = r.json()["case"]
    handler = {"X-API-Key": keys["handler"][case["lead"]]}
    for step, body in (("sign", {}), ("reply", {"text": "已更换路灯灯泡，经夜间复查照明恢复正常。"})):
        r = httpx.post(f"{url}/api/v1/handler/cases/{case['id']}/{step}", headers=handler, json=body, timeout=10)
        assert r.status_code == 200, r.text
        case = r.json()["case"]
    assert case["state"] == "replied"
    return case


def _token(body: str) -> str:
    """The survey token in a 办结 message: ``…或打开 {public_base_url}/survey/{token} 评价。``"""
    return body.split("/survey/")[1].split()[0]


def _survey_token(stack: Stack, code: str) -> str:
    replied = wait_until(lambda: _messages(stack, code, "replied"), message="survey request")
    return _token(replied[-1]["body"])


def test_survey_answer_satisfied_closes_the_case(stack: Stack, keys: dict[str, dict[str, str]]) -> None:
    case = _replied_case(stack, keys, "13800138000")
    code = case["tracking_code"]

    receipt = wait_until(lambda: _messages(stack, code, "receipt"), message="receipt")[0]
    assert receipt["body"].startswith("【12345】") and receipt["channel"] == "sms"
    dispatched = wait_until(lambda: _messages(stack, code, "dispatched"), message="dispatched notice")[0]
    assert f"已派至{default_catalog().get_department(case['lead']).name}" in dispatched["body"]  # type: ignore[union-attr]

    replied = wait_until(lambda: _messages(stack, code, "replied"), message="survey request")
    assert len(replied) == 1
    body = replied[0]["body"]
    assert SURVEY_ASK in body and "已更换路灯灯泡" in body and "/survey/" in body
    wait_until(lambda: _messages(stack, code, "replied")[0]["status"] == "sent", message="delivered by the job")

    # the dev sink shows the number; the delivery log does not
    deliveries = httpx.get(
        f"{stack.url('notify')}/api/v1/deliveries",
        params={"tracking_code": code},
        headers={"X-API-Key": keys["dispatcher"]["ZX"]},
    ).json()
    assert deliveries and {d["recipient"] for d in deliveries if d["channel"] == "sms"} == {"138****8000"}

    # the link in the SMS: the page for a browser; the same round as JSON for a client
    token = _token(body)
    assert len(token) >= 32
    page = httpx.get(f"{stack.url('notify')}/survey/{token}")
    assert page.status_code == 200 and "满意" in page.text and "基本满意" in page.text and "不满意" in page.text
    link = httpx.get(f"{stack.url('notify')}/api/v1/surveys/{token}").json()
    assert link["tracking_code"] == code and link["awaiting_answer"] is True
    browser = httpx.get(f"{stack.url('notify')}/api/v1/surveys/{token}", headers={"Accept": "text/html"})
    assert browser.headers["content-type"].startswith("text/html") and "基本满意" in browser.text

    bad = _answer(stack, token=token, answer="4")
    assert bad.status_code == 422 and [f["field"] for f in bad.json()["fields"]] == ["answer"]
    r = _answer(stack, token=token, answer="1", comment="路灯修好了")
    assert r.status_code == 202, r.text
    assert r.json()["result"] == "满意"
    again = _answer(stack, token=token, answer="2")
    assert again.status_code == 409 and again.json()["error"] == "already_answered" and "已" in again.json()["message"]

    wait_until(lambda: _track(stack, code)["state"] == "closed", message="dispatch closed the case")
    assert "已评价" in httpx.get(f"{stack.url('notify')}/survey/{token}").text
    closed = wait_until(lambda: _messages(stack, code, "closed"), message="closed notice")
    assert len(closed) == 1
    assert httpx.post(f"{stack.url('notify')}/api/v1/surveys/{token}", json={"answer": "满意"}).status_code == 409


def test_survey_answer_unsatisfied_reopens_the_case(stack: Stack, keys: dict[str, dict[str, str]]) -> None:
    case = _replied_case(stack, keys, "13900139000")
    code = case["tracking_code"]
    token = _survey_token(stack, code)

    r = httpx.post(f"{stack.url('notify')}/api/v1/surveys/{token}", json={"answer": "3", "comment": "还是不亮"})
    assert r.status_code == 202, r.text

    def reopened() -> bool:
        return any(h["action"] == "reopened" for h in _track(stack, code)["history"])

    wait_until(reopened, message="dispatch reopened the case")
    assert _track(stack, code)["state"] != "closed"
    wait_until(lambda: _messages(stack, code, "reopened"), message="重办 notice to the citizen")
    # the round's token is used: a reopened case is asked again with a new link once it is replied again
    r = _answer(stack, token=token, answer="1")
    assert r.status_code == 409 and r.json()["error"] == "already_answered"


def test_survey_answer_validation(stack: Stack, keys: dict[str, dict[str, str]]) -> None:
    unknown = _answer(stack, token=secrets.token_urlsafe(24), answer="1")
    assert unknown.status_code == 404 and unknown.json()["error"] == "survey_link_not_found"
    page = httpx.get(f"{stack.url('notify')}/survey/NOPE-000000")
    assert page.status_code == 404 and "评价链接无效" in page.text
    assert httpx.get(f"{stack.url('notify')}/api/v1/surveys/{secrets.token_urlsafe(24)}").status_code == 404
    # a tracking code is no credential
    bare = _answer(stack, tracking_code="CH2611240001", answer="1")
    assert bare.status_code == 401 and bare.json()["error"] == "unauthorized"
