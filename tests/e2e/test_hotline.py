"""Hotline extras through the running services: enrichment to a case, history, duplicates, classify, knowledge."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.wired_intake import wired_intake
from tests.support import Infra, Stack, wait_until

OPERATOR: dict[str, str] = {}  # the stack's operator X-API-Key header, for every hotline call


@pytest.fixture(scope="module", autouse=True)
def operator_key(stack: Stack) -> None:
    OPERATOR.update(stack.operator_headers)


@pytest.fixture(scope="module")
def intake(infra: Infra, stack: Stack) -> Iterator[str]:
    with wired_intake(infra, stack) as url:
        yield url


def phone() -> str:
    return "139" + str(uuid.uuid4().int)[:8]


def file(intake: str, **overrides: object) -> httpx.Response:
    body: dict[str, object] = {
        "call_id": f"call-{uuid.uuid4()}",
        "caller_phone": phone(),
        "text": "建设路12号门口井盖坏了，晚上很危险",
        "address": "成华区建设路12号",
    }
    body.update(overrides)
    return httpx.post(f"{intake}/api/v1/complaints", json=body, headers=OPERATOR, timeout=10)


def case_for(stack: Stack, complaint_id: str) -> dict | None:
    r = httpx.get(f"{stack.url('dispatch')}/api/v1/cases", params={"complaint_id": complaint_id}, timeout=10)
    items = r.json()["items"]
    return items[0] if items else None


def test_address_is_enriched_to_street_grid_in_the_case(intake: str, stack: Stack) -> None:
    r = file(intake)
    assert r.status_code == 201, r.text
    c = r.json()
    assert c["address_status"] == "resolved"
    assert c["street_code"] == "S01" and c["grid_code"].startswith("S01")
    assert c["kind"] == "投诉"
    assert c["suggestions"][0]["category"] == "SZ"
    case = wait_until(lambda: case_for(stack, c["id"]), message="case created")
    assert case["street_code"] == "S01"
    assert case["grid_code"] == c["grid_code"]


def test_unknown_address_is_flagged(intake: str) -> None:
    r = file(intake, address="火星基地七号楼")
    assert r.status_code == 201
    assert r.json()["address_status"] in {"unresolved", "ambiguous"}
    assert r.json()["grid_code"] is None


def test_emergency_text_is_flagged(intake: str) -> None:
    r = file(intake, text="楼下着火了，浓烟很大，有人被困在三楼", address="成华区建设路12号")
    assert r.status_code == 201
    assert r.json()["emergency"]["service"] == "119"


def test_caller_history_with_case_status(intake: str, stack: Stack) -> None:
    number = phone()
    first = file(intake, caller_phone=number).json()
    second = file(intake, caller_phone=number, text="请问社保转移怎么办理", address=None, kind="咨询").json()
    wait_until(lambda: case_for(stack, first["id"]), message="case created")

    def known() -> dict | None:
        r = httpx.get(f"{intake}/api/v1/hotline/callers/{number}/history", headers=OPERATOR, timeout=10)
        assert r.status_code == 200
        body = r.json()
        states = {i["id"]: i["case"]["state"] for i in body["items"]}
        return body if states.get(first["id"]) not in (None, "unknown", "pending") else None

    history = wait_until(known, message="case state in the caller history")
    assert history["count"] == 2
    assert [i["id"] for i in history["items"]] == [second["id"], first["id"]]
    by_id = {i["id"]: i for i in history["items"]}
    assert by_id[first["id"]]["case"]["state"] not in {"unknown", "pending"}
    assert by_id[first["id"]]["case"]["state_name"]
    empty = httpx.get(f"{intake}/api/v1/hotline/callers/{phone()}/history", headers=OPERATOR, timeout=10).json()
    assert empty["count"] == 0


def test_history_degrades_to_unknown_without_dispatch(infra: Infra, stack: Stack) -> None:
    number = phone()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    with wired_intake(infra, stack, dispatch_url=f"http://127.0.0.1:{dead_port}") as intake_url:
        file(intake_url, caller_phone=number)
        r = httpx.get(f"{intake_url}/api/v1/hotline/callers/{number}/history", headers=OPERATOR, timeout=10)
    assert r.status_code == 200
    assert r.json()["items"][0]["case"]["state"] == "unknown"
    assert r.json()["items"][0]["case"]["state_name"]


def test_history_bad_phone_is_422(intake: str) -> None:
    r = httpx.get(f"{intake}/api/v1/hotline/callers/not-a-phone/history", headers=OPERATOR, timeout=10)
    assert r.status_code == 422
    assert r.json()["fields"][0]["field"].endswith("phone")


def test_duplicates_same_category_nearby(intake: str) -> None:
    marker = uuid.uuid4().hex[:6]
    near = file(intake, text=f"建设路12号门口井盖坏了，晚上很危险 {marker}").json()
    file(intake, text="建设路12号门口井盖坏了，晚上很危险", address="成华区火车东站")  # far away
    r = httpx.post(
        f"{intake}/api/v1/hotline/duplicates",
        json={"text": f"建设路12号的井盖坏了 {marker}", "address": "成华区建设路12号"},
        headers=OPERATOR,
        timeout=10,
    )
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["category"] == "SZ"
    ids = [d["id"] for d in answer["candidates"]]
    assert near["id"] in ids
    top = answer["candidates"][0]
    assert top["text_similarity"] > 0.3 and (top["same_grid"] or top["distance_m"] <= 200)
    assert all(d["same_grid"] or (d["distance_m"] is not None and d["distance_m"] <= 200) for d in answer["candidates"])


def test_duplicates_bad_input(intake: str) -> None:
    r = httpx.post(
        f"{intake}/api/v1/hotline/duplicates", json={"text": "", "radius_m": -5}, headers=OPERATOR, timeout=10
    )
    assert r.status_code == 422
    assert {f["field"] for f in r.json()["fields"]} >= {"text", "radius_m"}


def test_classify_endpoint(intake: str) -> None:
    r = httpx.post(
        f"{intake}/api/v1/classify", json={"text": "建设路井盖坏了", "channel": "hotline"}, headers=OPERATOR, timeout=10
    )
    assert r.status_code == 200
    c = r.json()
    assert c["kind"] in {"投诉", "求助", "举报"}
    assert len(c["matters"]) == 3
    assert {"code", "category", "confidence"} <= set(c["matters"][0])
    assert c["emergency"] is None
    fire = httpx.post(
        f"{intake}/api/v1/classify", json={"text": "楼下着火了有人被困"}, headers=OPERATOR, timeout=10
    ).json()
    assert fire["emergency"]["service"] == "119"
    bad_bodies = (
        ({"channel": "hotline"}, "text"),
        ({"text": "  "}, "text"),
        ({"text": "x", "channel": "fax"}, "channel"),
    )
    for bad, field in bad_bodies:
        r = httpx.post(f"{intake}/api/v1/classify", json=bad, headers=OPERATOR, timeout=10)
        assert r.status_code == 422
        assert r.json()["fields"][0]["field"] == field


def test_knowledge_answer_for_consultation(intake: str) -> None:
    r = httpx.post(
        f"{intake}/api/v1/hotline/knowledge",
        json={"text": "请问办理居住证需要什么材料", "kind": "咨询"},
        headers=OPERATOR,
    )
    assert r.status_code == 200
    answers = r.json()["answers"]
    assert answers and answers[0]["answer"]


def test_address_check(intake: str) -> None:
    ok = httpx.get(f"{intake}/api/v1/hotline/address", params={"q": "成华区建设路12号"}, headers=OPERATOR).json()
    assert ok["status"] == "resolved" and ok["grid"]["street_code"] == "S01"
    bad = httpx.get(f"{intake}/api/v1/hotline/address", params={"q": "火星基地七号楼"}, headers=OPERATOR).json()
    assert bad["status"] in {"unresolved", "ambiguous"} and bad["grid"] is None


def test_a_knowledge_base_question_is_answered_and_closed_at_once(stack: Stack) -> None:
    r = file(stack.url("intake"), text="请问居住证怎么办理，需要什么材料", kind=None, address=None)
    assert r.status_code == 201, r.text
    code = r.json()["tracking_code"]
    assert r.json()["matter_code"] == "ZX003"

    def closed() -> dict | None:
        track = httpx.get(f"{stack.url('dispatch')}/api/v1/track/{code}", timeout=10).json()
        return track if track.get("state") == "closed" else None

    track = wait_until(closed, message="直接办结")
    assert [h["action"] for h in track["history"]][-2:] == ["answered", "closed"]

    def answer_sms() -> list[dict]:
        msgs = httpx.get(f"{stack.url('notify')}/dev/messages", params={"tracking_code": code}, timeout=10).json()
        return [m for m in msgs if m["template"] == "answered"]

    assert "居住证" in wait_until(answer_sms, message="the answer reaches the citizen")[0]["body"]
