"""Intake's personal data needs a credential: every hotline endpoint × {none, wrong, dispatch handler,
dispatcher, operator, supervisor, disabled operator, console session}; the console login; the citizen's
own lookup with tracking code + secret or phone last four; rate limits answer 429 with Retry-After."""

from __future__ import annotations

import asyncio
import re
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from services.dispatch.seeds.demo import seed as seed_dispatch_keys
from services.intake.operators import service as operators
from shared.db import make_engine, make_sessionmaker
from tests.e2e.wired_intake import wired_intake
from tests.support import Infra, Stack, create_operator

OPEN311_KEY = "linkage-open311-demo-key"
PASSWORD = f"pw-{uuid.uuid4().hex[:12]}"
NOT_FOUND = {
    "error": "not_found",
    "message": "未找到该受理编号，或查询密码（手机号后四位）不正确",
    "field": "tracking_code",
}


@pytest.fixture(scope="module")
def creds(infra: Infra, stack: Stack) -> dict[str, dict[str, str]]:
    dispatch = asyncio.run(seed_dispatch_keys(infra.settings()))["api_keys"]
    operator_name, operator_key = create_operator(infra, password=PASSWORD)
    _, supervisor_key = create_operator(infra, role="supervisor")
    disabled_name, disabled_key = create_operator(infra)
    asyncio.run(_disable(infra, disabled_name))
    return {
        "operator": {"X-API-Key": operator_key},
        "supervisor": {"X-API-Key": supervisor_key},
        "disabled": {"X-API-Key": disabled_key},
        "dispatcher": {"X-API-Key": dispatch["dispatcher"]["ZX"]},
        "admin": {"X-API-Key": dispatch["admin"]["ZX"]},
        "handler": {"X-API-Key": dispatch["handler"]["CGJ"]},
        "wrong": {"X-API-Key": "lko_" + "x" * 43},
        "none": {},
        "username": {"name": operator_name},
    }


async def _disable(infra: Infra, username: str) -> None:
    engine = make_engine(infra.settings(), "intake", pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            await operators.set_disabled(session, username, True)
            await session.commit()
    finally:
        await engine.dispose()


def phone() -> str:
    return "139" + str(uuid.uuid4().int)[:8]


def ticket(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "call_id": f"auth-{uuid.uuid4()}",
        "caller_phone": phone(),
        "text": "我叫王小明，建设路12号门口井盖坏了",
        "address": "成华区建设路12号",
    }
    return {**body, **overrides}


@pytest.fixture(scope="module")
def filed(stack: Stack, creds: dict[str, dict[str, str]]) -> dict[str, Any]:
    body = ticket()
    r = httpx.post(f"{stack.url('intake')}/api/v1/complaints", json=body, headers=creds["operator"], timeout=10)
    assert r.status_code == 201, r.text
    return {**r.json(), "phone": body["caller_phone"], "call_id": body["call_id"]}


def requests_for(filed: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """Every intake endpoint with personal data or operator tools: (method, path, httpx kwargs)."""
    history = f"/api/v1/hotline/callers/{filed['phone']}/history"
    return {
        "file": ("POST", "/api/v1/complaints", {"json": ticket()}),
        "detail": ("GET", f"/api/v1/complaints/{filed['id']}", {}),
        "history": ("GET", history, {}),
        "classify": ("POST", "/api/v1/classify", {"json": {"text": "井盖坏了"}}),
        "duplicates": ("POST", "/api/v1/hotline/duplicates", {"json": {"text": "井盖坏了", "address": "建设路12号"}}),
        "knowledge": ("POST", "/api/v1/hotline/knowledge", {"json": {"text": "居住证怎么办理", "kind": "咨询"}}),
        "address": ("GET", "/api/v1/hotline/address", {"params": {"q": "成华区建设路12号"}}),
        "me": ("GET", "/api/v1/operators/me", {}),
        "operators": ("GET", "/api/v1/operators", {}),
    }


STAFF_ENDPOINTS = {"detail", "history"}  # dispatchers and admins may read these too
SUPERVISOR_ENDPOINTS = {"operators"}
# who gets what: 401 = not authenticated, 403 = authenticated but not allowed
EXPECTED = {
    "none": lambda e: 401,
    "wrong": lambda e: 401,
    "disabled": lambda e: 401,
    "handler": lambda e: 403,
    "dispatcher": lambda e: 200 if e in STAFF_ENDPOINTS else 403,
    "admin": lambda e: 200 if e in STAFF_ENDPOINTS else 403,
    "operator": lambda e: 403 if e in SUPERVISOR_ENDPOINTS else (201 if e == "file" else 200),
    "supervisor": lambda e: 201 if e == "file" else 200,
}


def test_authorization_matrix(stack: Stack, creds: dict[str, dict[str, str]], filed: dict[str, Any]) -> None:
    wrong: list[str] = []
    with httpx.Client(base_url=stack.url("intake"), timeout=15) as client:
        for role, expected_of in EXPECTED.items():
            for endpoint, (method, path, kwargs) in requests_for(filed).items():
                kwargs = {**kwargs, "json": ticket()} if endpoint == "file" else kwargs
                r = client.request(method, path, headers=creds[role], **kwargs)
                expected = expected_of(endpoint)
                if r.status_code != expected:
                    wrong.append(f"{role} {endpoint}: {r.status_code} (expected {expected}) {r.text[:120]}")
                elif expected in (401, 403):
                    body = r.json()
                    assert body["error"] in ("unauthorized", "forbidden")
                    assert re.search(r"[\u4e00-\u9fff]", body["message"])  # a message in Chinese
                    assert "王小明" not in r.text
    assert not wrong, "\n".join(wrong)


def test_dispatcher_reads_history_and_detail(stack: Stack, creds: dict[str, dict[str, str]]) -> None:
    number = phone()
    r = httpx.post(
        f"{stack.url('intake')}/api/v1/complaints",
        json=ticket(caller_phone=number),
        headers=creds["operator"],
        timeout=10,
    )
    assert r.status_code == 201
    history = httpx.get(
        f"{stack.url('intake')}/api/v1/hotline/callers/{number}/history", headers=creds["dispatcher"], timeout=10
    )
    assert history.status_code == 200 and history.json()["items"][0]["id"] == r.json()["id"]
    assert history.json()["items"][0]["text"].startswith("我叫王小明")


def test_authorization_comes_before_validation(stack: Stack, creds: dict[str, dict[str, str]]) -> None:
    intake = stack.url("intake")
    bad_ticket = {"call_id": "", "caller_phone": "not a phone", "text": ""}
    for role, status in (("none", 401), ("wrong", 401), ("handler", 403), ("dispatcher", 403)):
        assert httpx.post(f"{intake}/api/v1/complaints", json=bad_ticket, headers=creds[role]).status_code == status
        assert httpx.post(f"{intake}/api/v1/classify", json={"text": 5}, headers=creds[role]).status_code == status
    assert httpx.get(f"{intake}/api/v1/hotline/callers/not-a-phone/history").status_code == 401
    assert (
        httpx.get(f"{intake}/api/v1/hotline/callers/not-a-phone/history", headers=creds["handler"]).status_code == 403
    )
    assert httpx.post(f"{intake}/api/v1/complaints", json=bad_ticket, headers=creds["operator"]).status_code == 422
    not_json = {"content-type": "application/json"}
    for path in ("/api/v1/complaints", "/api/v1/classify", "/api/v1/hotline/duplicates"):
        assert httpx.post(f"{intake}{path}", content=b"{not json", headers=not_json).status_code == 401
        assert (
            httpx.post(f"{intake}{path}", content=b"{not json", headers={**not_json, **creds["handler"]}).status_code
            == 403
        )
        assert (
            httpx.post(f"{intake}{path}", content=b"{not json", headers={**not_json, **creds["operator"]}).status_code
            == 422
        )


def test_openapi_declares_who_may_call(stack: Stack) -> None:
    spec = httpx.get(f"{stack.url('intake')}/openapi.json", timeout=10).json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["OperatorKey"] == {**schemes["OperatorKey"], "type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert schemes["ConsoleSession"]["in"] == "cookie" and schemes["DispatcherKey"]["in"] == "header"

    def security(path: str, method: str) -> set[str]:
        return {name for item in spec["paths"][path][method].get("security", []) for name in item}

    assert security("/api/v1/complaints", "post") == {"OperatorKey", "ConsoleSession"}
    assert security("/api/v1/hotline/callers/{phone}/history", "get") == {
        "OperatorKey",
        "ConsoleSession",
        "DispatcherKey",
    }
    assert security("/api/v1/complaints/{complaint_id}", "get") >= {"DispatcherKey"}


def test_console_login_session_and_logout(stack: Stack, creds: dict[str, dict[str, str]]) -> None:
    intake = stack.url("intake")
    username = creds["username"]["name"]
    page = httpx.get(f"{intake}/console", timeout=10)
    assert page.status_code == 200 and "话务员登录" in page.text and 'id="ticket"' not in page.text
    wrong = httpx.post(f"{intake}/console/login", data={"username": username, "password": "nope-nope"})
    assert wrong.status_code == 401 and "用户名或密码错误" in wrong.text and "set-cookie" not in wrong.headers
    unknown = httpx.post(f"{intake}/console/login", data={"username": "nobody-here", "password": PASSWORD})
    assert unknown.status_code == 401 and "用户名或密码错误" in unknown.text
    ok = httpx.post(f"{intake}/console/login", data={"username": username, "password": PASSWORD})
    assert ok.status_code == 303 and ok.headers["location"] == "/console"
    set_cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=strict" in set_cookie and "max-age=43200" in set_cookie
    cookie = ok.cookies["linkage_console"]
    jar = {"linkage_console": cookie}
    page = httpx.get(f"{intake}/console", cookies=jar, timeout=10)
    assert 'id="ticket"' in page.text and username in page.text
    me = httpx.get(f"{intake}/api/v1/operators/me", cookies=jar, timeout=10)
    assert me.status_code == 200 and me.json()["name"] == username and me.json()["via"] == "session"
    r = httpx.post(f"{intake}/api/v1/complaints", json=ticket(), cookies=jar, timeout=10)
    assert r.status_code == 201 and r.json()["tracking_secret"]

    payload, _, mac = cookie.rpartition(".")
    parts = payload.split(".")
    for forged in (".".join([parts[0], "1", *parts[2:]]) + "." + mac, payload + ".AAAA", cookie + "x"):
        refused = httpx.get(f"{intake}/api/v1/operators/me", cookies={"linkage_console": forged}, timeout=10)
        assert refused.status_code == 401, forged

    out = httpx.post(f"{intake}/console/logout", cookies=jar, timeout=10)
    assert out.status_code == 303 and 'linkage_console=""' in out.headers["set-cookie"]
    after = httpx.get(f"{intake}/api/v1/operators/me", cookies=jar, timeout=10)
    assert after.status_code == 401  # the old cookie is revoked on the server, not just forgotten by the browser
    assert "话务员登录" in httpx.get(f"{intake}/console", cookies=jar, timeout=10).text


def test_tracking_code_has_65_random_bits(filed: dict[str, Any]) -> None:
    assert re.fullmatch(r"\d{6}[23456789ABCDEFGHJKLMNPQRSTUVWXYZ]{13}", filed["tracking_code"])
    assert filed["tracking_secret"] and len(filed["tracking_secret"]) >= 8


def lookup(intake: str, code: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(f"{intake}/api/v1/app/complaints/{code}", timeout=10, **kwargs)


def test_citizen_sees_their_complaint_with_secret_or_last4(stack: Stack, creds: dict[str, dict[str, str]]) -> None:
    intake = stack.url("intake")
    number = phone()
    app = httpx.post(
        f"{intake}/api/v1/app/complaints",
        json={"text": "楼道灯坏了一个月", "phone": number},
        headers={"Idempotency-Key": str(uuid.uuid4())},
        timeout=10,
    ).json()
    code, secret = app["tracking_code"], app["tracking_secret"]
    assert lookup(intake, code, headers={"X-Tracking-Secret": secret}).json()["text"] == "楼道灯坏了一个月"
    assert lookup(intake, code, params={"secret": secret.lower()}).status_code == 200
    assert lookup(intake, code, params={"phone_last4": number[-4:]}).status_code == 200
    unknown = lookup(intake, "261125AAAAAAAAAAAAA", headers={"X-Tracking-Secret": secret})
    assert unknown.status_code == 404 and unknown.json() == NOT_FOUND
    for refused in (
        lookup(intake, code),
        lookup(intake, code, headers={"X-Tracking-Secret": "WRONGWRONG"}),
        lookup(intake, code, params={"phone_last4": "0000" if number[-4:] != "0000" else "1111"}),
    ):
        assert refused.status_code == 404 and refused.json() == NOT_FOUND  # the same answer as an unknown code
        assert "楼道灯" not in refused.text

    # the secret opens only its own complaint
    body = ticket()
    hotline = httpx.post(f"{intake}/api/v1/complaints", json=body, headers=creds["operator"], timeout=10).json()
    assert lookup(intake, hotline["tracking_code"], headers={"X-Tracking-Secret": secret}).status_code == 404
    mine = lookup(intake, hotline["tracking_code"], headers={"X-Tracking-Secret": hotline["tracking_secret"]})
    assert mine.status_code == 200 and mine.json()["text"].startswith("我叫王小明")

    # Open311 hands the secret out once too
    o311 = httpx.post(
        f"{intake}/open311/v2/requests.json",
        data={
            "api_key": OPEN311_KEY,
            "service_code": "SZ002",
            "description": "井盖松动",
            "lat": "30.661",
            "long": "104.0979",
        },
        timeout=10,
    ).json()[0]
    assert lookup(intake, o311["service_request_id"], params={"secret": o311["tracking_secret"]}).status_code == 200
    # a replay shows no secret again
    replay = httpx.post(f"{intake}/api/v1/complaints", json=body, headers=creds["operator"], timeout=10)
    assert replay.status_code == 200 and replay.json()["tracking_secret"] is None


@pytest.fixture(scope="module")
def own_intake(infra: Infra, stack: Stack) -> Iterator[str]:
    """An intake process of its own: its rate-limit buckets are not shared with other tests."""
    with wired_intake(infra, stack, dispatch_url=stack.url("dispatch")) as url:
        yield url


def test_lookups_and_logins_are_rate_limited(own_intake: str, creds: dict[str, dict[str, str]]) -> None:
    answers = [lookup(own_intake, f"261125{uuid.uuid4().hex[:13].upper()}").status_code for _ in range(40)]
    assert 404 in answers and 429 in answers
    limited = lookup(own_intake, "261125AAAAAAAAAAAAA")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["error"] == "rate_limited"

    logins = [
        httpx.post(f"{own_intake}/console/login", data={"username": "x-guess", "password": f"guess-{i}"})
        for i in range(12)
    ]
    assert {r.status_code for r in logins} == {401, 429}
    refused = logins[-1]
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1 and "请" in refused.text


def test_dispatcher_key_with_dispatch_away_is_a_json_503(
    infra: Infra, stack: Stack, creds: dict[str, dict[str, str]]
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    with wired_intake(infra, stack, dispatch_url=f"http://127.0.0.1:{dead_port}") as url:
        number = phone()
        history = f"{url}/api/v1/hotline/callers/{number}/history"
        r = httpx.get(history, headers=creds["dispatcher"], timeout=15)
        assert r.status_code == 503 and r.json()["error"] == "dispatch_unavailable"
        assert int(r.headers["Retry-After"]) >= 1
        assert httpx.get(history, headers=creds["operator"], timeout=15).status_code == 200  # operators: no dispatch
        assert httpx.get(history, headers=creds["wrong"], timeout=15).status_code == 503  # cannot tell: not a 200
        assert httpx.get(history, timeout=15).status_code == 401
