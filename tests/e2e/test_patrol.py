"""未诉先办 end to end through the running services: a quiet grid gets five 城市管理 reports → analytics finds the hot
spot (grid × category above its own baseline) and announces it once → intake opens one patrol task for that grid's
workers → a worker of the grid records 已处置 with a note and a photo (a worker of another grid may not) → analytics
counts it and the wall screen shows it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from services.intake.places import default_places
from services.intake.seeds.channels import demo_workers
from tests.e2e.channels_support import DEMO, query
from tests.e2e.pages_support import demo_keys
from tests.e2e.test_channels_app import png
from tests.support import Infra, Stack, wait_until

REPORTS = (
    ("CG008", "渣土车抛洒滴漏，路面全是泥浆"),
    ("CG003", "楼顶有人正在违法搭建彩钢棚"),
    ("CG011", "共享单车乱停放把盲道全部堵死"),
    ("CG009", "店铺招牌摇摇欲坠存在安全隐患"),
    ("CG006", "垃圾分类桶混装混运，分类形同虚设"),
)


def quiet_worker(stack: Stack) -> dict[str, Any]:
    """A demo grid worker whose only grid had no case lately."""
    busy = httpx.get(f"{stack.url('analytics')}/api/v1/display/snapshot", timeout=10).json()["grids"]["volume"]
    for worker in demo_workers(DEMO, 400)[::-1]:
        if len(worker["grids"]) == 1 and not busy.get(worker["grids"][0]):
            return worker
    raise AssertionError("no quiet grid left")


def test_hot_spot_patrol_task_result_counted(stack: Stack, infra: Infra) -> None:
    intake, analytics = stack.url("intake"), stack.url("analytics")
    worker = quiet_worker(stack)
    grid = worker["grids"][0]
    headers = {"X-Worker-Token": worker["token"]}
    lon, lat = default_places().index.centroid(grid)  # type: ignore[misc]
    for matter, text in REPORTS:
        r = httpx.post(
            f"{intake}/api/v1/grid/reports",
            json={"matter_code": matter, "text": text, "lon": lon, "lat": lat, "client_request_id": str(uuid.uuid4())},
            headers=headers,
            timeout=20,
        )
        assert r.status_code == 201, r.text
        assert r.json()["grid_code"] == grid
    wait_until(
        lambda: (
            httpx.get(f"{analytics}/api/v1/display/snapshot", timeout=10).json()["grids"]["today"].get(grid, 0)
            >= len(REPORTS)
        ),
        timeout_s=60,
        message="the five reports counted in their grid",
    )

    # analytics raises the hot spot once (a dispatcher may ask for a scan now; the scanner does it every minute)
    dispatcher = {"X-API-Key": demo_keys(infra)["dispatcher"]["ZX"]}
    assert httpx.post(f"{analytics}/api/v1/hotspots/scan", timeout=10).status_code == 401
    handler = {"X-API-Key": demo_keys(infra)["handler"]["CGJ"]}
    assert httpx.post(f"{analytics}/api/v1/hotspots/scan", headers=handler, timeout=10).status_code == 403

    def raised() -> dict[str, Any] | None:
        r = httpx.post(f"{analytics}/api/v1/hotspots/scan", headers=dispatcher, timeout=20)
        assert r.status_code == 200, r.text
        alerts = httpx.get(f"{analytics}/api/v1/hotspots", timeout=10).json()["items"]
        return next((a for a in alerts if a["grid_code"] == grid and a["category"] == "CG"), None)

    alert = wait_until(raised, timeout_s=30, interval_s=1, message="hot spot raised")
    assert alert["recent_count"] >= len(REPORTS) and alert["category_name"] == "城市管理"
    assert alert["grid_name"] == worker["grid_names"][0]

    # intake opens one task for the grid's workers
    def task() -> dict[str, Any] | None:
        items = httpx.get(f"{intake}/api/v1/grid/tasks", headers=headers, timeout=10).json()["items"]
        return next((t for t in items if t["grid_code"] == grid and t["category"] == "CG"), None)

    t = wait_until(task, timeout_s=30, message="patrol task opened")
    assert t["status"] == "open" and t["status_name"] == "待巡查"
    assert "未诉先办" in t["reason"] and "城市管理" in t["reason"] and t["due_at"]
    assert t["grid_name"] == worker["grid_names"][0] and t["street_name"]

    # scanning again raises nothing new and opens no second task
    again = httpx.post(f"{analytics}/api/v1/hotspots/scan", headers=dispatcher, timeout=20).json()["raised"]
    assert all(not (a["grid_code"] == grid and a["category"] == "CG") for a in again)
    assert len(query(infra, "SELECT id FROM patrol_tasks WHERE grid_code = :g", g=grid)) == 1

    # a worker of another grid neither lists it nor may complete it
    other = next(w for w in demo_workers(DEMO, 400) if grid not in w["grids"])
    other_h = {"X-Worker-Token": other["token"]}
    assert all(x["id"] != t["id"] for x in httpx.get(f"{intake}/api/v1/grid/tasks", headers=other_h).json()["items"])
    refused = httpx.post(f"{intake}/api/v1/grid/tasks/{t['id']}/result", json={"result": "handled"}, headers=other_h)
    assert refused.status_code == 403 and "不是你负责网格" in refused.json()["message"]
    assert httpx.post(f"{intake}/api/v1/grid/tasks/{t['id']}/result", json={"result": "handled"}).status_code == 401
    bad = httpx.post(f"{intake}/api/v1/grid/tasks/{t['id']}/result", json={"result": "做完了"}, headers=headers)
    assert bad.status_code == 422

    # the grid's worker records 已处置 with a note and a photo
    url = f"{intake}/api/v1/grid/tasks/{t['id']}/result"
    form = {"result": "已处置", "note": "已联系物业清理，现场恢复"}
    done = httpx.post(url, data=form, files=[("photos", ("p.png", png(), "image/png"))], headers=headers, timeout=20)
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["status"] == "done" and body["result"] == "handled" and body["result_name"] == "已处置"
    assert body["done_by"] == worker["worker_id"] and len(body["photos"]) == 1 and body["note"] == form["note"]
    replay = httpx.post(url, data=form, headers=headers, timeout=20)
    assert replay.status_code == 200 and replay.headers.get("idempotent-replay") == "true"
    assert replay.json()["done_at"] == body["done_at"]
    conflict = httpx.post(url, json={"result": "nothing_found"}, headers=headers, timeout=20)
    assert conflict.status_code == 409 and "不能重复提交" in conflict.json()["message"]
    still_open = httpx.get(f"{intake}/api/v1/grid/tasks", headers=headers).json()["items"]
    assert t["id"] not in [x["id"] for x in still_open]
    listed = httpx.get(f"{intake}/api/v1/grid/tasks", params={"status": "done"}, headers=headers).json()["items"]
    assert [x["id"] for x in listed if x["id"] == t["id"]] == [t["id"]]

    # analytics counts it; the wall screen shows it
    def counted() -> dict[str, Any] | None:
        h = httpx.get(f"{analytics}/api/v1/hotspots", timeout=10).json()
        mine = next(a for a in h["items"] if a["id"] == alert["id"])
        return h if mine["task"]["state"] == "done" else None

    h = wait_until(counted, timeout_s=30, message="patrol result counted by analytics")
    mine = next(a for a in h["items"] if a["id"] == alert["id"])
    assert mine["task"]["result"] == "handled" and mine["task"]["state_name"] == "已处置"
    assert h["patrol"]["done_today"] >= 1 and h["patrol"]["opened_today"] >= 1
    handled = next(r for r in h["patrol"]["done_today_by_result"] if r["code"] == "handled")
    assert handled["count"] >= 1 and handled["name"] == "已处置"
    snap = wait_until(
        lambda: (
            s
            if (s := httpx.get(f"{analytics}/api/v1/display/snapshot", timeout=10).json())["patrol"]["done_today"] >= 1
            else None
        ),
        timeout_s=10,
        message="patrol counts on the wall screen",
    )
    shown = next(a for a in snap["hotspots"]["items"] if a["grid_code"] == grid)
    assert shown["task"] == "done" and shown["task_name"] == "已处置"
    assert worker["name"] not in str(snap) and form["note"] not in str(snap)
