"""Everything public shows only redacted text, and every unauthenticated lookup is rate-limited.

A complaint full of personal data is filed through Open311 (api_key, as a citizen's app would) and through the
hotline (operator key); a handler replies with personal data too. Open311 GET (list and detail, JSON and XML),
public tracking, the unkeyed case status API and the analytics ticker must show none of it. Rate limits are
tried from other loopback addresses (127.0.0.2…): the test stack exempts 127.0.0.1, which every other test uses.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from defusedxml import ElementTree as SafeET

from services.dispatch.seeds.demo import seed
from tests.support import Infra, Stack, wait_until

KEY = "linkage-open311-demo-key"
PLANTED = "我叫王小明，电话13712345678，身份证510108199001011234，住建设路12号3栋501，楼下健身器材断了"
REPLY = "已联系王小明（13712345678），建设路12号3栋501门口健身器材已更换，车牌川A12345的车已挪走。"
SECRETS = (
    "王小明",
    "13712345678",
    "510108199001011234",
    "19900101",
    "12号",
    "3栋",
    "栋501",  # not "501" alone: it turns up in timestamps
    "川A12345",
    "wxm@example.org",
    "30.661005",
    "104.097895",
)


def assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked: {text[:600]}"


@pytest.fixture(scope="module")
def keys(infra: Infra) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = asyncio.run(seed(infra.settings()))["api_keys"]
    return out


def client_from(address: str) -> httpx.Client:
    """A client whose requests come from another loopback address (its own rate-limit bucket)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=10)


def file_open311(stack: Stack) -> dict[str, Any]:
    form = {
        "api_key": KEY,
        "service_code": "SZ018",
        "lat": "30.661005",
        "long": "104.097895",
        "address_string": "成华区建设路12号3栋501",
        "description": PLANTED,
        "phone": "13712345678",
        "email": "wxm@example.org",
        "first_name": "小明",
        "last_name": "王",
        "device_id": f"dev-{uuid.uuid4()}",
    }
    r = httpx.post(f"{stack.url('intake')}/open311/v2/requests.json", data=form, timeout=10)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()[0]
    return created


def file_hotline(stack: Stack) -> dict[str, Any]:
    r = httpx.post(
        f"{stack.url('intake')}/api/v1/complaints",
        headers=stack.operator_headers,
        timeout=10,
        json={
            "call_id": f"call-{uuid.uuid4()}",
            "caller_phone": "13712345678",
            "kind": "投诉",
            "matter_code": "SZ018",
            "text": PLANTED,
            "address": "成华区建设路12号3栋501",
        },
    )
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def case_of(stack: Stack, tracking_code: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        r = httpx.get(f"{stack.url('dispatch')}/api/v1/cases", params={"tracking_code": tracking_code}, timeout=10)
        items: list[dict[str, Any]] = r.json()["items"]
        return items[0] if items else None

    case: dict[str, Any] = wait_until(found, message=f"case for {tracking_code}")
    return case


def reply(stack: Stack, keys: dict[str, dict[str, str]], case: dict[str, Any]) -> None:
    """Drive the case to 办结 with a reply text full of personal data."""
    url = stack.url("dispatch")
    dk = {"X-API-Key": keys["dispatcher"]["ZX"]}
    assert case["state"] != "merged", case
    if case["state"] == "triage":
        r = httpx.post(f"{url}/api/v1/dispatch/cases/{case['id']}/dispatch", headers=dk, json={"lead": "CGJ"})
        assert r.status_code == 200, r.text
        case = r.json()["case"]
    handler = {"X-API-Key": keys["handler"][case["lead"]]}
    for step, body in (("sign", {}), ("reply", {"text": REPLY})):
        r = httpx.post(f"{url}/api/v1/handler/cases/{case['id']}/{step}", headers=handler, json=body, timeout=10)
        assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def filed(stack: Stack, keys: dict[str, dict[str, str]]) -> Iterator[dict[str, Any]]:
    open311 = file_open311(stack)
    hotline = file_hotline(stack)
    codes = [open311["service_request_id"], hotline["tracking_code"]]
    cases = [case_of(stack, code) for code in codes]
    # distinct complaints of the same text may be merged as duplicates: reply on the one that is not
    replied = next(c for c in cases if c["state"] != "merged")
    reply(stack, keys, replied)
    yield {"codes": codes, "cases": cases, "replied": replied}


def test_open311_detail_and_list_show_only_redacted_text(stack: Stack, filed: dict[str, Any]) -> None:
    intake = f"{stack.url('intake')}/open311/v2"
    codes = filed["codes"]
    for code in codes:
        for fmt in ("json", "xml"):
            r = httpx.get(f"{intake}/requests/{code}.{fmt}", timeout=10)
            assert r.status_code == 200, r.text
            assert_clean(r.content.decode())
        one = httpx.get(f"{intake}/requests/{code}.json", timeout=10).json()[0]
        assert "王**" in one["description"] and "137****5678" in one["description"]
    own = httpx.get(f"{intake}/requests/{codes[0]}.json", timeout=10).json()[0]
    assert (own["lat"], own["long"]) == (30.661, 104.098)
    root = SafeET.fromstring(httpx.get(f"{intake}/requests/{codes[0]}.xml", timeout=10).content)
    assert root.findtext("request/address") == "成华区建设路"
    assert root.findtext("request/description") == (
        "我叫王**，电话137****5678，身份证510108***********4，住建设路**号**栋**，楼下健身器材断了"
    )
    for fmt in ("json", "xml"):
        listed = httpx.get(f"{intake}/requests.{fmt}", params={"service_code": "SZ018", "page_size": "100"})
        assert listed.status_code == 200, listed.text
        body = listed.content.decode()
        assert all(code in body for code in codes)
        assert_clean(body)
        by_id = httpx.get(f"{intake}/requests.{fmt}", params={"service_request_id": ",".join(codes)})
        assert_clean(by_id.content.decode())


def test_open311_listing_is_paginated(stack: Stack, filed: dict[str, Any]) -> None:
    intake = f"{stack.url('intake')}/open311/v2"
    first = httpx.get(f"{intake}/requests.json", params={"page_size": "1"}).json()
    second = httpx.get(f"{intake}/requests.json", params={"page_size": "1", "page": "2"}).json()
    assert len(first) == 1 and len(second) == 1
    assert first[0]["service_request_id"] != second[0]["service_request_id"]
    two = httpx.get(f"{intake}/requests.json", params={"page_size": "2"}).json()
    assert [e["service_request_id"] for e in two] == [first[0]["service_request_id"], second[0]["service_request_id"]]
    assert len(httpx.get(f"{intake}/requests.json").json()) <= 50
    for fmt in ("json", "xml"):
        too_big = httpx.get(f"{intake}/requests.{fmt}", params={"page_size": "101"})
        assert too_big.status_code == 400 and "page_size" in too_big.text


def test_tracking_and_case_status_show_no_personal_data(stack: Stack, filed: dict[str, Any]) -> None:
    dispatch = stack.url("dispatch")
    for code, case in zip(filed["codes"], filed["cases"], strict=True):
        for path, params in (
            (f"/api/v1/track/{code}", None),
            ("/api/v1/cases", {"tracking_code": code}),
            (f"/api/v1/cases/{case['id']}", None),
            ("/api/v1/cases", {"complaint_id": case["complaint_id"]}),
        ):
            r = httpx.get(f"{dispatch}{path}", params=params, timeout=10)
            assert r.status_code == 200, r.text
            assert_clean(r.text)
            assert "健身器材断了" not in r.text  # no complaint text at all
    replied = filed["replied"]
    track = httpx.get(f"{dispatch}/api/v1/track/{replied['tracking_code']}", timeout=10).json()
    texts = [e["text"] for e in track["history"] if e["text"]]
    assert texts == ["已联系王**（137****5678），建设路**号**栋**门口健身器材已更换，车牌川A***45的车已挪走。"]
    page = httpx.get(f"{dispatch}/track", params={"code": replied["tracking_code"]}, timeout=10)
    assert page.status_code == 200


def test_analytics_ticker_shows_no_personal_data(stack: Stack, filed: dict[str, Any]) -> None:
    analytics = stack.url("analytics")
    for path in ("/api/v1/stats/events?limit=100", "/api/v1/stats/overview", "/api/v1/open-data/cases.csv"):
        r = httpx.get(f"{analytics}{path}", timeout=10)
        assert r.status_code == 200, r.text
        assert_clean(r.text)
        assert all(code not in r.text for code in filed["codes"])  # tracking codes are masked too


def _until_limited(client: httpx.Client, url: str, params: dict[str, str] | None = None) -> httpx.Response:
    for _ in range(40):
        r = client.get(url, params=params)
        if r.status_code == 429:
            return r
        assert r.status_code < 500, r.text
    raise AssertionError(f"no 429 from {url} after 40 requests")


def test_open311_reads_are_rate_limited(stack: Stack, filed: dict[str, Any]) -> None:
    intake = f"{stack.url('intake')}/open311/v2"
    with client_from("127.0.0.2") as client:
        r = _until_limited(client, f"{intake}/requests.json", {"page_size": "5"})
        assert int(r.headers["Retry-After"]) >= 1
        assert r.json()[0]["code"] == 429 and "秒后再试" in r.json()[0]["description"]
        again = client.get(f"{intake}/requests.xml")
        assert again.status_code == 429 and again.headers["content-type"].startswith("text/xml")
        root = SafeET.fromstring(again.content)
        assert root.tag == "errors" and root.findtext("error/code") == "429"
        assert int(again.headers["Retry-After"]) >= 1
    with client_from("127.0.0.3") as client:
        r = _until_limited(client, f"{intake}/requests/{filed['codes'][0]}.json")
        assert int(r.headers["Retry-After"]) >= 1
    # another client (and the exempt test address) is not affected
    assert httpx.get(f"{intake}/requests.json", params={"page_size": "1"}).status_code == 200


def test_tracking_lookups_are_rate_limited(stack: Stack, filed: dict[str, Any]) -> None:
    dispatch = stack.url("dispatch")
    with client_from("127.0.0.4") as client:
        # guessing tracking codes: unknown codes are 404 until the limit, then 429
        r = _until_limited(client, f"{dispatch}/api/v1/track/NOPE{uuid.uuid4().hex[:8].upper()}")
        assert r.json()["error"] == "rate_limited" and int(r.headers["Retry-After"]) >= 1
    with client_from("127.0.0.5") as client:
        r = _until_limited(client, f"{dispatch}/api/v1/cases", {"tracking_code": "NOPE0000"})
        assert r.json()["error"] == "rate_limited" and int(r.headers["Retry-After"]) >= 1
        # the limit comes before validation: still 429 for a malformed request
        assert client.get(f"{dispatch}/api/v1/cases", params={"tracking_code": "x" * 50}).status_code == 429
        # batches of complaint ids (how intake asks) have their own, larger allowance
        ok = client.get(f"{dispatch}/api/v1/cases", params={"complaint_id": filed["cases"][0]["complaint_id"]})
        assert ok.status_code == 200
