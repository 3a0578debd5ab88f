"""并单 through the running services: the compare endpoint (keys, bad input, paraphrase, both kinds of negatives),
two paraphrased complaints filed on intake ending up as one case, and the console's duplicate panel deciding alike."""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

import httpx
import pytest

from services.dispatch.seeds.demo import seed
from tests.support import Infra, Stack, wait_until

M_PER_DEG_LAT = 111_320.0


@pytest.fixture(scope="module")
def keys(infra: Infra) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = asyncio.run(seed(infra.settings()))["api_keys"]
    return out


def _spot() -> dict[str, float]:
    from tests.support import distinct_spot  # the district map loads on first use

    return distinct_spot()


def _east(spot: dict[str, float], metres: float) -> dict[str, float]:
    return {"lon": spot["lon"] + metres / (M_PER_DEG_LAT * 0.86), "lat": spot["lat"]}


CITIZEN = "双林路66号门口那个井盖莫得了，晚上黑黢黢的，娃儿差点踩进去"
OPERATOR = "市民来电反映：成华区双林路66号附近人行道一处窨井盖缺失，存在安全隐患，要求尽快补装。"
GRID = "网格员巡查发现：双林路66号门前检查井井盖丢失，已设置锥桶警示。"
LIGHT = "双林路66号门口的路灯不亮好几天了，晚上走路看不清楚"


def _compare(stack: Stack, key: str | None, body: Any) -> httpx.Response:
    headers = {"X-API-Key": key} if key else {}
    return httpx.post(
        f"{stack.url('dispatch')}/api/v1/dispatch/duplicates/compare", json=body, headers=headers, timeout=30
    )


def _report(text: str, *, east: float = 0.0, time: str = "2025-03-04T20:00:00+08:00", **kw: Any) -> dict[str, Any]:
    base = {"lon": 104.1021, "lat": 30.6524}
    return {"text": text, "address": "双林路66号", **_east(base, east), "time": time, **kw}


def test_compare_decides_paraphrases_and_negatives(stack: Stack, keys: dict[str, dict[str, str]]) -> None:
    dk = keys["dispatcher"]["ZX"]
    for a, b in ((CITIZEN, OPERATOR), (CITIZEN, GRID), (OPERATOR, GRID)):
        r = _compare(stack, dk, {"a": _report(a), "b": _report(b, east=62, time="2025-03-05T01:00:00+08:00")})
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["decision"] == "merge", out
        assert "相距 62 米" in out["reasons"] and "间隔 5 小时" in out["reasons"]
        assert any(reason.startswith("描述相近") for reason in out["reasons"]) and "井盖" in out["shared"]

    with_matter = _compare(
        stack,
        dk,
        {"a": _report(CITIZEN, matter_code="SZ002"), "b": _report(OPERATOR, east=40, matter_code="SZ002")},
    ).json()
    assert with_matter["reasons"][0] == "事项相同（SZ002 井盖缺失破损）" and with_matter["decision"] == "merge"

    same_spot = _compare(stack, dk, {"a": _report(CITIZEN), "b": _report(LIGHT, east=20)}).json()
    assert same_spot["decision"] == "separate" and "描述的对象不同：井盖 / 路灯" in same_spot["reasons"]

    far = {"text": "杉板桥路120号附近人行道上有个井盖不见了，很危险", "address": "杉板桥路120号"}
    far_out = _compare(stack, dk, {"a": _report(CITIZEN), "b": _report(**far, east=1300)}).json()
    assert far_out["decision"] == "separate" and any("公里" in reason for reason in far_out["reasons"])


def test_compare_needs_a_dispatcher_key_and_good_input(stack: Stack, keys: dict[str, dict[str, str]]) -> None:
    good = {"a": _report(CITIZEN), "b": _report(OPERATOR)}
    assert _compare(stack, None, good).status_code == 401
    r = _compare(stack, keys["handler"]["CGJ"], good)
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    dk = keys["dispatcher"]["ZX"]
    bad_bodies = [
        {"a": _report(CITIZEN)},  # b missing
        {"a": _report(""), "b": _report(OPERATOR)},  # empty text
        {"a": {"text": CITIZEN, "lon": 104.1}, "b": _report(OPERATOR)},  # lon without lat
        {"a": _report(CITIZEN, matter_code="井盖"), "b": _report(OPERATOR)},
        {"a": _report(CITIZEN, lat=91), "b": _report(OPERATOR)},
        {"a": _report("井" * 2001), "b": _report(OPERATOR)},
        {"a": _report(CITIZEN, colour="red"), "b": _report(OPERATOR)},
        {"a": _report(CITIZEN, time="yesterday"), "b": _report(OPERATOR)},
        [1, 2],
    ]
    for body in bad_bodies:
        r = _compare(stack, dk, body)
        assert r.status_code == 422, (body if not isinstance(body, dict) else list(body), r.text)
        assert r.headers["content-type"].startswith("application/json") and r.json()["error"]
    naive = _compare(stack, dk, {"a": _report(CITIZEN, time="2025-03-04T20:00:00"), "b": _report(OPERATOR)})
    assert naive.status_code == 200 and naive.json()["hours"] == 0  # a time without a zone is Beijing time
    bare = _compare(stack, dk, {"a": {"text": "井盖莫得了"}, "b": {"text": "窨井盖缺失"}})
    assert bare.status_code == 200 and bare.json()["distance_m"] is None


def _file(stack: Stack, text: str, spot: dict[str, float], **extra: Any) -> dict[str, Any]:
    body = {
        "call_id": f"call-{uuid.uuid4()}",
        "caller_phone": f"139{random.SystemRandom().randrange(10**8):08d}",
        "kind": "投诉",
        "text": text,
        **spot,
        **extra,
    }
    r = httpx.post(f"{stack.url('intake')}/api/v1/complaints", json=body, headers=stack.operator_headers, timeout=10)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def _case_of(stack: Stack, dk: dict[str, str], complaint_id: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        items = httpx.get(
            f"{stack.url('dispatch')}/api/v1/dispatch/cases", headers=dk, params={"complaint_id": complaint_id}
        ).json()["items"]
        return items[0] if items and items[0]["state"] != "accepted" else None

    case: dict[str, Any] = wait_until(found, message="case opened")
    return case


def test_two_paraphrased_complaints_become_one_case(stack: Stack, keys: dict[str, dict[str, str]]) -> None:
    dk = {"X-API-Key": keys["dispatcher"]["ZX"]}
    spot = _spot()
    number = random.SystemRandom().randrange(100, 999)
    where = f"幸福巷{number}号"  # not in the gazetteer: the case keeps the point it was filed with
    operator = f"市民来电反映：{where}附近人行道一处窨井盖缺失，存在安全隐患，要求尽快补装。"
    citizen = f"{where}门口那个井盖莫得了，晚上黑黢黢的，娃儿差点踩进去"
    first_complaint = _file(stack, operator, spot, matter_code="SZ002")
    first = _case_of(stack, dk, first_complaint["id"])
    assert first["state"] in ("dispatched", "triage"), first
    second_complaint = _file(stack, citizen, _east(spot, 60))

    def merged() -> dict[str, Any] | None:
        case = _case_of(stack, dk, second_complaint["id"])
        return case if case["state"] == "merged" else None

    second = wait_until(merged, message="the paraphrase merged into the first case")
    assert second["merged_into"] == first["id"]
    r = httpx.get(f"{stack.url('dispatch')}/api/v1/dispatch/duplicates", headers=dk, params={"case_id": first["id"]})
    assert r.status_code == 200, r.text
    (link,) = r.json()["items"]
    assert (link["case_id"], link["status"], link["decision"]) == (second["id"], "merged", "merge")
    assert any(reason.startswith("相距 6") for reason in link["reasons"])
    assert any(reason.startswith("描述相近") for reason in link["reasons"])
    track = httpx.get(f"{stack.url('dispatch')}/api/v1/track/{second['tracking_code']}", timeout=10).json()
    assert track["merged_into"] == first["tracking_code"]

    # the hotline console's duplicate panel decides alike for a third caller's words
    r = httpx.post(
        f"{stack.url('intake')}/api/v1/hotline/duplicates",
        json={"text": f"{where}那里的下水道盖子遭人偷了", "matter_code": "SZ002", **_east(spot, 30)},
        headers=stack.operator_headers,
        timeout=30,
    )
    assert r.status_code == 200, r.text
    candidates = {c["id"]: c for c in r.json()["candidates"]}
    assert {first_complaint["id"], second_complaint["id"]} & candidates.keys(), candidates
    for c in candidates.values():
        assert c["decision"] in ("merge", "suggest") and c["reasons"]


def test_listing_an_unknown_case_is_404(stack: Stack, keys: dict[str, dict[str, str]]) -> None:
    r = httpx.get(
        f"{stack.url('dispatch')}/api/v1/dispatch/duplicates",
        headers={"X-API-Key": keys["dispatcher"]["ZX"]},
        params={"case_id": "01HZZZZZZZZZZZZZZZZZZZZZZZ"},
    )
    assert r.status_code == 404 and r.json()["error"]
