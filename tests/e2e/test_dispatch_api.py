"""The dispatch closed loop and the authorization matrix through the running system."""

from __future__ import annotations

import asyncio
import importlib.util
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from services.dispatch.audit import verify_all
from services.dispatch.seeds.demo import seed
from tests.support import REPO, Infra, Stack, wait_until


def _scenario() -> ModuleType:
    spec = importlib.util.spec_from_file_location("scenario_dispatch", Path(REPO) / "scripts" / "scenario_dispatch.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def keys(infra: Infra) -> dict[str, dict[str, str]]:
    first = asyncio.run(seed(infra.settings()))
    again = asyncio.run(seed(infra.settings()))  # idempotent
    assert first == again
    out: dict[str, dict[str, str]] = first["api_keys"]
    return out


def test_scripted_closed_loop_and_authorization(stack: Stack, infra: Infra, keys: dict[str, dict[str, str]]) -> None:
    final = _scenario().run_scenario(
        stack.url("intake"),
        stack.url("dispatch"),
        keys,
        log=lambda _: None,
        notify_url=stack.url("notify"),
        operator_key=stack.operator_key,
    )
    actions = [h["action"] for h in final["history"]]
    assert actions == [
        "created",
        "dispatched",
        "signed",
        "returned",
        "return_approved",
        "reassigned",
        "signed",
        "progressed",
        "extension_requested",
        "extension_approved",
        "replied",
        "surveyed",
        "reopened",
        "replied",
        "surveyed",
        "closed",
    ]
    assert final["lead"] == "JJDD" and final["survey_result"] == "满意"
    # 预警 at 80 % of the working time (what the staff pages colour by), before the deadline
    assert final["received_at"] < final["warning_at"] < final["deadline_at"]
    # the keyed APIs show the complaint itself (the unkeyed status API does not)
    assert "渣土车" in final["text"] and final["address"] and final["reporter"]["phone"]
    problems = asyncio.run(verify_all(infra.settings(), final["id"]))
    assert problems == []


def _new_case(stack: Stack, dk: dict[str, str], **overrides: Any) -> dict[str, Any]:
    body = {
        "call_id": f"call-{uuid.uuid4()}",
        "caller_phone": "13800138000",
        "kind": "投诉",
        "text": "渣土车抛洒，路面全是泥",
        "address": "成华区建设路",
        "matter_code": "CG008",
    }
    body.update(overrides)
    r = httpx.post(f"{stack.url('intake')}/api/v1/complaints", json=body, headers=stack.operator_headers, timeout=10)
    assert r.status_code == 201, r.text

    def found() -> dict[str, Any] | None:
        items = httpx.get(
            f"{stack.url('dispatch')}/api/v1/dispatch/cases", headers=dk, params={"complaint_id": r.json()["id"]}
        ).json()["items"]
        return items[0] if items else None

    case: dict[str, Any] = wait_until(found, message="case opened")
    return case


def test_dispatcher_endpoints_triage_merge_whistle_arbitrate(stack: Stack, keys: dict[str, dict[str, str]]) -> None:
    url = stack.url("dispatch")
    dk = {"X-API-Key": keys["dispatcher"]["ZX"]}
    handler = {"X-API-Key": keys["handler"]["CGJ"]}
    r = httpx.get(f"{url}/api/v1/dispatch/triage", headers=handler)
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    assert httpx.get(f"{url}/api/v1/dispatch/triage").status_code == 401

    master = _new_case(stack, dk)
    follower = _new_case(stack, dk)
    r = httpx.post(f"{url}/api/v1/dispatch/cases/{follower['id']}/merge", headers=dk, json={"master_id": master["id"]})
    assert r.status_code == 200 and r.json()["case"]["state"] == "merged", r.text

    mid = master["id"]
    r = httpx.post(f"{url}/api/v1/dispatch/cases/{mid}/whistle", headers=dk, json={"departments": ["SJJ", "HBJ"]})
    assert r.status_code == 200, r.text
    sjj = {"X-API-Key": keys["handler"]["SJJ"]}
    assert httpx.get(f"{url}/api/v1/handler/cases/{mid}", headers=sjj).status_code == 200  # convened: may see it
    r = httpx.post(f"{url}/api/v1/handler/cases/{mid}/report", headers=sjj, json={"note": "已到场"})
    assert r.status_code == 200 and r.json()["entry"]["details"]["on_time"] is True
    assert httpx.post(f"{url}/api/v1/handler/cases/{mid}/sign", headers=sjj).status_code == 403  # not the lead

    r = httpx.post(f"{url}/api/v1/handler/cases/{mid}/return", headers=handler, json={"reason": "非本单位职责"})
    assert r.status_code == 200
    quotes = httpx.get(f"{url}/api/v1/dispatch/cases/{mid}/arbitration", headers=dk).json()["quotes"]
    assert quotes and quotes[0]["matter"] == "CG008"
    r = httpx.post(f"{url}/api/v1/dispatch/cases/{mid}/arbitrate", headers=dk, json={"lead": "CGJ", "reason": "裁定"})
    assert r.status_code == 200, r.text
    assert r.json()["entry"]["details"]["responsibility"][0]["responsibility"] == quotes[0]["responsibility"]
    for step, body in (("sign", None), ("reply", {"text": "已处理"})):
        r = httpx.post(f"{url}/api/v1/handler/cases/{mid}/{step}", headers=handler, json=body or {})
        assert r.status_code == 200, r.text
    r = httpx.post(f"{url}/api/v1/dispatch/cases/{mid}/survey", headers=dk, json={"result": "基本满意"})
    assert r.json()["case"]["state"] == "closed"
    merged = httpx.get(f"{url}/api/v1/dispatch/cases/{follower['id']}", headers=dk).json()
    assert merged["state"] == "closed"
    track = httpx.get(f"{url}/api/v1/track/{follower['tracking_code']}").json()
    assert track["merged_into"] == master["tracking_code"]
    assert track["history"][-1]["action"] == "closed"

    r = httpx.post(f"{url}/api/v1/dispatch/cases/{mid}/reassign", headers=dk, json={"lead": "NOPE"})
    assert r.status_code == 422
    r = httpx.post(f"{url}/api/v1/dispatch/cases/{mid}/urge", headers=dk)
    assert r.status_code == 409 and r.json()["state"] == "closed"
