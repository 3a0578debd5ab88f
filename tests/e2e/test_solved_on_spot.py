"""就地解决 through the running stack: a grid worker's report solved on the spot (with its photo) is closed at once
as solved by the grid worker (history 网格员现场解决), never dispatched, without a handling limit or timers, and
analytics counts it as received and closed, not open and never overdue."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from services.dispatch.auth.service import create_key
from services.intake.places import default_places
from services.intake.seeds.channels import demo_workers
from shared.catalog import default_catalog
from shared.db import make_engine
from tests.e2e.channels_support import DEMO, case_for
from tests.e2e.test_channels_app import png
from tests.support import Infra, Stack, wait_until


def rows(infra: Infra, schema: str, sql: str, **params: Any) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        engine = make_engine(infra.settings(), schema, pool_size=1)
        try:
            async with engine.connect() as conn:
                return [dict(r) for r in (await conn.execute(text(sql), params)).mappings().all()]
        finally:
            await engine.dispose()

    return asyncio.run(run())


@pytest.fixture(scope="module")
def dispatcher(infra: Infra) -> dict[str, str]:
    key = asyncio.run(create_key(infra.settings(), role="dispatcher", department=default_catalog().center().code))
    return {"X-API-Key": key}


def report(stack: Stack, worker: dict[str, Any], *, solved: bool, photo: bool) -> httpx.Response:
    lon, lat = default_places().index.centroid(worker["grids"][0])  # type: ignore[misc]
    data = {
        "matter_code": "CG001",
        "text": f"路口流动摊贩占道经营，已劝离（{uuid.uuid4().hex[:6]}）",
        "lon": str(lon),
        "lat": str(lat),
        "solved_on_spot": "true" if solved else "false",
        "client_request_id": str(uuid.uuid4()),
    }
    files = [("photos", ("spot.png", png(), "image/png"))] if photo else None
    return httpx.post(
        f"{stack.url('intake')}/api/v1/grid/reports",
        data=data,
        files=files,
        headers={"X-Worker-Token": worker["token"]},
        timeout=20,
    )


def test_solved_on_spot_is_closed_at_once_and_counted(stack: Stack, infra: Infra, dispatcher: dict[str, str]) -> None:
    worker = demo_workers(DEMO, 3)[2]
    refused = report(stack, worker, solved=True, photo=False)
    assert refused.status_code == 422 and refused.json()["fields"][0]["field"] == "photos", refused.text
    assert "照片" in refused.json()["fields"][0]["message"]

    filed = report(stack, worker, solved=True, photo=True)
    assert filed.status_code == 201, filed.text
    complaint = filed.json()
    assert complaint["solved_on_spot"] is True and len(complaint["photos"]) == 1
    found = wait_until(lambda: case_for(stack, complaint["id"]), message="the case in dispatch")
    case = httpx.get(f"{stack.url('dispatch')}/api/v1/dispatch/cases/{found['id']}", headers=dispatcher).json()
    assert case["state"] == "closed" and case["lead"] is None and case["deadline_at"] is None
    assert case["dispatched_at"] is None and case["closed_at"] is not None
    history = case["history"]
    assert [h["action"] for h in history] == ["created", "solved_on_spot", "closed"]
    solved = history[1]
    assert solved["line"] == "网格员现场解决" and solved["actor_name"] == "网格员" and solved["public"] is True
    assert solved["details"]["worker"] == worker["worker_id"] and len(solved["details"]["photos"]) == 1
    assert history[2]["reason_text"] == "网格员现场解决，现场照片为证，直接结案"
    timers = rows(infra, "dispatch", "SELECT kind FROM case_timers WHERE case_id = :c", c=case["id"])
    assert timers == []  # no sign-for, no 5-working-day clock
    track = httpx.get(f"{stack.url('dispatch')}/api/v1/track/{case['tracking_code']}").json()
    assert [h["action"] for h in track["history"]] == ["created", "solved_on_spot", "closed"]

    status = wait_until(
        lambda: rows(
            infra,
            "analytics",
            "SELECT state, is_open, deadline_at, closed_at, dispatched_at FROM case_status WHERE case_id = :c "
            "AND state = 'closed'",
            c=case["id"],
        ),
        timeout_s=30,
        message="analytics' status of the case",
    )[0]
    assert status["is_open"] is False and status["deadline_at"] is None and status["closed_at"] is not None
    assert status["dispatched_at"] is None
    measured = wait_until(
        lambda: rows(
            infra,
            "analytics",
            "SELECT kind, one_time, department FROM measure_facts WHERE case_id = :c AND kind = 'closed'",
            c=case["id"],
        ),
        timeout_s=30,
        message="analytics' closed fact",
    )
    assert measured == [{"kind": "closed", "one_time": True, "department": None}]
    measure_case = rows(
        infra, "analytics", "SELECT state, channel, closed_at FROM measure_cases WHERE case_id = :c", c=case["id"]
    )
    assert measure_case[0]["state"] == "closed" and measure_case[0]["channel"] == "grid"
    counted = rows(
        infra,
        "analytics",
        "SELECT sum(count) AS n FROM daily_counts WHERE action = 'solved_on_spot' AND channel = 'grid'",
    )
    assert (counted[0]["n"] or 0) >= 1

    ordinary = report(stack, worker, solved=False, photo=False)  # the same matter, not solved: dispatched
    assert ordinary.status_code == 201, ordinary.text
    other = wait_until(lambda: case_for(stack, ordinary.json()["id"]), message="the ordinary grid case")
    assert other["state"] in ("dispatched", "triage", "merged") and other["deadline_at"] is not None
