"""并单 through the database: a paraphrase of an open case nearby merges into it (reasons in its history); the same
spot with another problem, the same problem far away, a closed or an old case do not; a middling one is suggested."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.case.models import Case, CaseHistory
from services.dispatch.duplicate.service import duplicates_of, find_duplicates, merge_or_suggest
from services.dispatch.opening import open_cases
from shared.events.complaints import ComplaintReceivedV1, GeoPoint, PlaceRef
from tests.db import sessions_fixture
from tests.integration.dispatch_factory import add_cases, new_case

pytestmark = pytest.mark.asyncio(loop_scope="session")

M_PER_DEG_LAT = 111_320.0
maker = sessions_fixture("dispatch")


def spot() -> tuple[float, float]:
    """A point of its own for each test (cases of other tests in this database are kilometres away)."""
    rng = random.SystemRandom()
    return 104.05 + rng.uniform(0, 0.1), 30.60 + rng.uniform(0, 0.1)


def _case(base: tuple[float, float], *, east_m: float = 0.0, **kw: object) -> Case:
    now = dt.datetime.now(dt.UTC)
    lon, lat = base
    values: dict[str, object] = {
        "state": "dispatched",
        "category": "SZ",
        "matter_code": "SZ002",
        "lon": lon + east_m / (M_PER_DEG_LAT * 0.86),
        "lat": lat,
        "address": "双林路66号",
        "text": "双林路66号门口那个井盖莫得了，晚上黑黢黢的",
        "received_at": now,
        "deadline_at": now + dt.timedelta(days=7),
        "grid_code": f"G{uuid.uuid4().hex[:6]}",
    }
    values.update(kw)
    return new_case(**values)


async def test_paraphrase_nearby_is_merged_with_reasons(maker: async_sessionmaker[AsyncSession]) -> None:
    base = spot()
    earlier = dt.datetime.now(dt.UTC) - dt.timedelta(hours=5)
    operator = "市民来电反映：成华区双林路66号附近人行道一处窨井盖缺失，存在安全隐患，要求尽快补装。"
    async with maker() as session, session.begin():
        (master,) = await add_cases(session, [_case(base, text=operator, received_at=earlier, state="signed")])
    async with maker() as session, session.begin():
        (dup,) = await add_cases(session, [_case(base, east_m=62)])
        found = await merge_or_suggest(session, dup)
        assert found is not None and found.case_id == master.id and found.decision == "merge"
        assert found.distance_m is not None and 55 < found.distance_m < 70
        assert "事项相同（SZ002 井盖缺失破损）" in found.reasons
        assert any(r.startswith("间隔 5 小时") for r in found.reasons)
    async with maker() as session:
        merged = await session.get(Case, dup.id)
        assert merged is not None and merged.state == "merged" and merged.merged_into == master.id
        links = await duplicates_of(session, master.id)
        assert [(link.case_id, link.status) for link in links] == [(dup.id, "merged")]
        history = (await session.execute(select(CaseHistory).where(CaseHistory.case_id == dup.id))).scalars().all()
        reason = next(h.reason for h in history if h.action == "merged")
        assert reason is not None and reason.startswith(f"重复诉求，并入 {master.tracking_code}")
        assert "描述相近：井盖、缺失" in reason and "相距 6" in reason


async def test_another_problem_far_closed_or_old_is_not_merged(maker: async_sessionmaker[AsyncSession]) -> None:
    base = spot()
    now = dt.datetime.now(dt.UTC)
    light = "双林路66号门口的路灯不亮好几天了，晚上黑黢黢的"
    async with maker() as session, session.begin():
        other_problem, far, closed, old = await add_cases(
            session,
            [
                _case(base, text=light, matter_code="SZ003", received_at=now - dt.timedelta(hours=1)),
                _case(base, east_m=1200, received_at=now - dt.timedelta(hours=1)),
                _case(base, state="closed", received_at=now - dt.timedelta(hours=1)),
                _case(base, received_at=now - dt.timedelta(days=9)),
            ],
        )
    async with maker() as session, session.begin():
        (new,) = await add_cases(session, [_case(base, east_m=30)])
        found = {c.case_id: c for c in await find_duplicates(session, new)}
        assert not found.keys() & {far.id, closed.id, old.id}  # not even candidates
        assert found[other_problem.id].decision == "separate"
        assert any(r.startswith("描述的对象不同") for r in found[other_problem.id].reasons)
        assert await merge_or_suggest(session, new) is None
        assert new.state == "dispatched"
        assert await duplicates_of(session, new.id) == []


async def test_same_grid_without_point_and_middling_text_is_suggested(
    maker: async_sessionmaker[AsyncSession],
) -> None:
    grid = f"G{uuid.uuid4().hex[:6]}"
    now = dt.datetime.now(dt.UTC)
    common: dict[str, Any] = {"grid_code": grid, "lon": None, "lat": None, "address": None, "matter_code": "SZ003"}
    async with maker() as session, session.begin():
        (first,) = await add_cases(
            session,
            [_case(spot(), text="建设路12号门口的路灯不亮", received_at=now - dt.timedelta(hours=3), **common)],
        )
    async with maker() as session, session.begin():
        (second,) = await add_cases(session, [_case(spot(), text="建设路12号门口晚上黑黢黢的，看不清路", **common)])
        found = await find_duplicates(session, second)
        assert [(c.case_id, c.decision) for c in found] == [(first.id, "suggest")]
        assert "无坐标，同一网格（" + grid + "）" in found[0].reasons
        assert await merge_or_suggest(session, second) is None
        links = await duplicates_of(session, second.id)
        assert [(link.candidate_id, link.status) for link in links] == [(first.id, "suggested")]
        assert second.state == "dispatched"


def _complaint(text: str, at: tuple[float, float], received: dt.datetime, **kw: object) -> ComplaintReceivedV1:
    uid = uuid.uuid4().hex[:20].upper()
    values: dict[str, object] = {
        "complaint_id": uid,
        "tracking_code": f"T{uid[:12]}",
        "channel": "hotline",
        "channel_key": uid,
        "kind": "投诉",
        "text": text,
        "location": GeoPoint(lon=at[0], lat=at[1], source="operator"),
        "place": PlaceRef(street_code="S03", grid_code=f"G{uid[:8]}"),
        "matter_code": "SZ002",
        "received_at": received,
    }
    values.update(kw)
    return ComplaintReceivedV1(**values)  # type: ignore[arg-type]


async def test_paraphrases_in_one_batch_become_one_case(maker: async_sessionmaker[AsyncSession]) -> None:
    """Both complaints reach dispatch in one consumer batch: the second follows the first opened just before."""
    lon, lat = spot()
    now = dt.datetime.now(dt.UTC)
    grid_worker = _complaint(
        "网格员巡查发现：双林路66号门前检查井井盖丢失，已设置锥桶警示。", (lon, lat), now - dt.timedelta(hours=2)
    )
    citizen = _complaint(
        "双林路66号门口那个井盖莫得了，晚上黑黢黢的", (lon + 50 / (M_PER_DEG_LAT * 0.86), lat), now, matter_code=None
    )
    async with maker() as session, session.begin():
        opened = {c.complaint_id: c for c in await open_cases(session, [citizen, grid_worker])}
    first, second = opened[grid_worker.complaint_id], opened[citizen.complaint_id]
    assert first.state in ("dispatched", "triage")
    assert second.state == "merged" and second.merged_into == first.id
