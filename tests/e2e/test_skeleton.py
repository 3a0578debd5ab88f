"""The walking skeleton through all four services: complaint → case → receipt → counted."""

from __future__ import annotations

import uuid

import httpx

from tests.support import Stack, wait_until


def file_complaint(stack: Stack, call_id: str, **overrides: object) -> httpx.Response:
    body: dict[str, object] = {
        "call_id": call_id,
        "caller_phone": "13800138000",
        "text": "建设路12号门口井盖坏了，晚上很危险",
        "address": "成华区建设路12号",
        "kind": "投诉",
    }
    body.update(overrides)
    return httpx.post(f"{stack.url('intake')}/api/v1/complaints", json=body, headers=stack.operator_headers, timeout=10)


def case_for(stack: Stack, complaint_id: str) -> dict | None:
    r = httpx.get(f"{stack.url('dispatch')}/api/v1/cases", params={"complaint_id": complaint_id}, timeout=10)
    items = r.json()["items"]
    return items[0] if items else None


def test_complaint_becomes_case_receipt_and_count(stack: Stack) -> None:
    r = file_complaint(stack, f"call-{uuid.uuid4()}")
    assert r.status_code == 201, r.text
    complaint = r.json()
    case = wait_until(lambda: case_for(stack, complaint["id"]), message="case created")
    assert case["tracking_code"] == complaint["tracking_code"]
    # "merged": other tests file the same problem at the same place (并单 into their case)
    assert case["state"] in {"dispatched", "triage", "accepted", "merged"}
    assert case["deadline_at"] is not None
    detail = httpx.get(f"{stack.url('dispatch')}/api/v1/cases/{case['id']}", timeout=10).json()
    assert detail["complaint_id"] == complaint["id"]
    assert "text" not in detail and "address" not in detail and "reporter" not in detail  # keyed APIs only
    everything = httpx.get(f"{stack.url('dispatch')}/api/v1/cases", timeout=10)
    assert everything.status_code == 422  # listing all cases needs the dispatcher API and its key

    def receipt() -> list[dict]:
        r = httpx.get(f"{stack.url('notify')}/dev/messages", params={"tracking_code": complaint["tracking_code"]})
        return [m for m in r.json() if m["template"] == "receipt"]

    messages = wait_until(receipt, message="receipt in the development sink")
    assert complaint["tracking_code"] in messages[0]["body"]

    def counted() -> int:
        return int(httpx.get(f"{stack.url('analytics')}/api/v1/stats/summary").json()["cases_created"])

    wait_until(lambda: counted() >= 1, message="analytics counted the case")


def test_repeated_call_id_is_one_complaint_one_case(stack: Stack) -> None:
    call_id = f"call-{uuid.uuid4()}"
    first = file_complaint(stack, call_id)
    second = file_complaint(stack, call_id)
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.headers.get("Idempotent-Replay") == "true"
    assert first.json()["id"] == second.json()["id"]
    wait_until(lambda: case_for(stack, first.json()["id"]), message="case created")
    r = httpx.get(f"{stack.url('dispatch')}/api/v1/cases", params={"tracking_code": first.json()["tracking_code"]})
    assert len(r.json()["items"]) == 1


def test_bad_input_is_a_clear_4xx_and_stores_nothing(stack: Stack) -> None:
    url = f"{stack.url('intake')}/api/v1/complaints"
    op = stack.operator_headers
    missing_text = httpx.post(url, json={"call_id": "bad-1", "caller_phone": "13800138000"}, headers=op)
    assert missing_text.status_code == 422
    assert missing_text.json()["fields"][0]["field"] == "text"

    too_long = httpx.post(
        url, json={"call_id": "bad-2", "caller_phone": "13800138000", "text": "长" * 100_000}, headers=op
    )
    assert too_long.status_code in (413, 422)
    assert "error" in too_long.json()

    wrong_types = httpx.post(url, json={"call_id": ["x"], "caller_phone": 13800138000, "text": 5}, headers=op)
    assert wrong_types.status_code == 422
    fields = {f["field"] for f in wrong_types.json()["fields"]}
    assert {"call_id", "caller_phone", "text"} <= fields

    not_json = httpx.post(url, content=b"{not json", headers={"content-type": "application/json", **op})
    assert not_json.status_code == 422

    for call_id in ("bad-1", "bad-2"):
        # nothing stored: filing it properly now creates it fresh (201, not a replay)
        assert file_complaint(stack, call_id).status_code == 201


def test_case_status_for_several_complaints_in_one_request(stack: Stack) -> None:
    texts = [f"第{n}次反映：双桥路{uuid.uuid4().hex[:4]}号积水" for n in range(3)]
    ids = [file_complaint(stack, f"call-{uuid.uuid4()}", text=t).json()["id"] for t in texts]

    def all_cases() -> list[dict] | None:
        r = httpx.get(f"{stack.url('dispatch')}/api/v1/cases", params={"complaint_id": ",".join(ids)}, timeout=10)
        items = r.json()["items"]
        return items if len(items) == 3 else None

    assert {c["complaint_id"] for c in wait_until(all_cases, message="three cases")} == set(ids)
    too_many = ",".join(f"c{i}" for i in range(201))
    r = httpx.get(f"{stack.url('dispatch')}/api/v1/cases", params={"complaint_id": too_many}, timeout=10)
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "complaint_id"
