"""Forged survey answers, through the running stack: none of them rates or closes a case.

A survey answer needs the round's token (sent to the citizen in the 办结 message) or a signed SMS gateway
callback naming the phone that received the survey. Tried here: no token, a bare tracking code, garbage, a
wrong token, an expired token, a reused token, unsigned / wrongly signed / stale gateway callbacks, a
signed callback for a number that was never surveyed — then the genuine answers, which close the case.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

import httpx
from sqlalchemy import text

from services.notify.config import DEMO_SMS_GATEWAY_SECRET
from shared.db import make_engine
from tests.e2e.test_notify import _answer, _replied_case, _survey_token, _track, keys
from tests.support import Infra, Stack, wait_until

__all__ = ["keys"]  # the module's fixture, shared with test_notify


def _gateway(
    stack: Stack, body: dict[str, Any], *, secret: str = DEMO_SMS_GATEWAY_SECRET, skew_s: int = 0
) -> httpx.Response:
    raw = json.dumps(body, ensure_ascii=False).encode()
    timestamp = str(int(time.time()) + skew_s)
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
    headers = {"content-type": "application/json", "X-Linkage-Timestamp": timestamp, "X-Linkage-Signature": mac}
    return httpx.post(f"{stack.url('notify')}/api/v1/surveys/answers", content=raw, headers=headers, timeout=10)


def _expire(infra: Infra, case_id: str, *, expired: bool) -> None:
    async def run() -> None:
        engine = make_engine(infra.settings(), "notify", pool_size=1)
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        "UPDATE notify.survey_tokens SET expires_at = now() + make_interval(hours => :h) "
                        "WHERE case_id = :c"
                    ),
                    {"h": -1 if expired else 24, "c": case_id},
                )
        finally:
            await engine.dispose()

    asyncio.run(run())


def _phone() -> str:
    return f"137{secrets.randbelow(10**8):08d}"


def test_forged_answers_are_refused_and_the_case_stays_open(
    stack: Stack, infra: Infra, keys: dict[str, dict[str, str]]
) -> None:
    phone = _phone()
    case = _replied_case(stack, keys, phone)
    code = case["tracking_code"]
    token = _survey_token(stack, code)
    notify = stack.url("notify")

    refused: dict[str, httpx.Response] = {
        "no body": httpx.post(f"{notify}/api/v1/surveys/answers", timeout=10),
        "no token": _answer(stack, answer="1"),
        "bare tracking code": _answer(stack, tracking_code=code, answer="1"),
        "garbage": httpx.post(
            f"{notify}/api/v1/surveys/answers", content=b"{not json", headers={"content-type": "application/json"}
        ),
        "wrong token": _answer(stack, token=secrets.token_urlsafe(24), answer="1"),
        "wrong token on the link": httpx.post(
            f"{notify}/api/v1/surveys/{secrets.token_urlsafe(24)}", json={"answer": "1"}
        ),
        "unsigned gateway": _answer(stack, phone=phone, answer="1"),
        "gateway, wrong secret": _gateway(stack, {"phone": phone, "answer": "1"}, secret="guessed"),
        "gateway, stale timestamp": _gateway(stack, {"phone": phone, "answer": "1"}, skew_s=-3600),
        "gateway, future timestamp": _gateway(stack, {"phone": phone, "answer": "1"}, skew_s=3600),
        "gateway, another phone": _gateway(stack, {"phone": _phone(), "answer": "1"}),
        "gateway, phone of another case": _gateway(
            stack, {"phone": phone, "tracking_code": "CH0000000000", "answer": "1"}
        ),
    }
    expected = {
        "no body": 401,
        "no token": 401,
        "bare tracking code": 401,
        "garbage": 401,
        "wrong token": 404,
        "wrong token on the link": 404,
        "unsigned gateway": 401,
        "gateway, wrong secret": 401,
        "gateway, stale timestamp": 401,
        "gateway, future timestamp": 401,
        "gateway, another phone": 404,
        "gateway, phone of another case": 404,
    }
    assert {k: r.status_code for k, r in refused.items()} == expected
    assert all(r.headers["content-type"].startswith("application/json") for r in refused.values())

    # expired: 410 on the API and a Chinese page
    _expire(infra, case["id"], expired=True)
    late = _answer(stack, token=token, answer="1")
    assert late.status_code == 410 and late.json()["error"] == "survey_link_expired"
    assert "过期" in late.json()["message"]
    late_page = httpx.get(f"{notify}/survey/{token}")
    assert late_page.status_code == 410 and "过期" in late_page.text
    assert _gateway(stack, {"phone": phone, "answer": "1"}).status_code == 404  # no open round for the phone
    time.sleep(1.0)
    assert _track(stack, code)["state"] == "replied"  # nothing above rated or closed the case

    # the genuine token (within its window) once; reused → 409 in Chinese
    _expire(infra, case["id"], expired=False)
    ok = _answer(stack, token=token, answer="基本满意")
    assert ok.status_code == 202, ok.text
    reused = _answer(stack, token=token, answer="不满意")
    assert reused.status_code == 409 and reused.json()["error"] == "already_answered"
    assert "已" in reused.json()["message"] and "评价" in reused.json()["message"]
    wait_until(lambda: _track(stack, code)["state"] == "closed", message="dispatch closed the case")


def test_signed_sms_gateway_reply_closes_the_phones_case(stack: Stack, keys: dict[str, dict[str, str]]) -> None:
    phone = _phone()
    case = _replied_case(stack, keys, phone)
    code = case["tracking_code"]
    _survey_token(stack, code)  # the survey SMS went out
    r = _gateway(stack, {"phone": f"+86 {phone[:3]}-{phone[3:7]}-{phone[7:]}", "answer": "1"})
    assert r.status_code == 202, r.text
    assert r.json()["tracking_code"] == code and r.json()["result"] == "满意"
    replay = _gateway(stack, {"phone": phone, "answer": "3"})
    assert replay.status_code == 404  # the phone's only open round is answered
    wait_until(lambda: _track(stack, code)["state"] == "closed", message="dispatch closed the case")


def test_survey_endpoints_are_rate_limited(stack: Stack) -> None:
    """From a loopback address of its own (127.0.0.4): emptying its bucket leaves other tests' alone."""
    statuses = []
    client = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.4"), timeout=10)
    for _ in range(90):
        r = client.get(f"{stack.url('notify')}/survey/{secrets.token_urlsafe(24)}")
        statuses.append(r.status_code)
        if r.status_code == 429:
            assert int(r.headers["Retry-After"]) >= 1 and r.json()["error"] == "rate_limited"
            break
    client.close()
    assert statuses[-1] == 429 and set(statuses[:-1]) == {404}
