"""Helpers for the page tests: demo keys, a complaint filed on intake and the case dispatch opened for it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from services.dispatch.seeds.demo import seed
from tests.support import Infra, Stack, wait_until

# Different problems (CGJ leads each) in one place, so the duplicate detector keeps them apart.
CGJ_PROBLEMS = (
    ("CG008", "渣土车抛洒滴漏，路面全是泥浆"),
    ("CG003", "楼顶有人正在违法搭建彩钢棚"),
    ("CG011", "共享单车乱停放把盲道全部堵死"),
    ("CG009", "店铺招牌摇摇欲坠存在安全隐患"),
    ("CG006", "小区垃圾分类桶混装混运，分类形同虚设"),
    ("CG017", "公共厕所没有水，几天无人打扫"),
    ("CG007", "有人半夜在河边空地倾倒装修建筑垃圾"),
)
# Disjoint slices per test module (an open case with a similar text nearby would absorb a new one: 并单).
API_PROBLEMS = CGJ_PROBLEMS[1:4]
BROWSER_PROBLEMS = CGJ_PROBLEMS[4:7]


def demo_keys(infra: Infra) -> dict[str, dict[str, str]]:
    keys: dict[str, dict[str, str]] = asyncio.run(seed(infra.settings()))["api_keys"]
    return keys


def file_complaint(stack: Stack, dispatcher_key: str, **overrides: Any) -> dict[str, Any]:
    """File a hotline complaint on intake and wait for dispatch's case (dispatcher view, with history)."""
    body: dict[str, Any] = {
        "call_id": f"call-{uuid.uuid4()}",
        "caller_phone": "13912345678",
        "caller_name": "王小明",
        "kind": "投诉",
        "text": "建设路12号门口渣土车抛洒，路面全是泥",
        "address": "成华区建设路12号",
        "matter_code": "CG008",
    }
    body.update(overrides)
    r = httpx.post(f"{stack.url('intake')}/api/v1/complaints", json=body, headers=stack.operator_headers, timeout=10)
    assert r.status_code == 201, r.text
    complaint_id = r.json()["id"]
    headers = {"X-API-Key": dispatcher_key}

    def opened() -> dict[str, Any] | None:
        items = httpx.get(
            f"{stack.url('dispatch')}/api/v1/dispatch/cases",
            headers=headers,
            params={"complaint_id": complaint_id},
            timeout=10,
        ).json()["items"]
        return items[0] if items else None

    case = wait_until(opened, message="case opened by dispatch")
    assert case is not None
    return case
