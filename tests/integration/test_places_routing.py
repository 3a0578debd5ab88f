"""Places in dispatch and analytics against real PostgreSQL: a point outside the district goes to triage (never
dispatched inside), a supplement that places a case waiting in triage for its place routes it (history in
Chinese), and analytics moves the case's count to its street and grid."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.analytics.stats.models import DailyCount, GridDailyCount
from services.analytics.stats.service import apply_case_events
from services.dispatch.case.flows import supplement_cases
from services.dispatch.case.models import Case, CaseHistory
from services.dispatch.opening import open_cases
from shared.db import make_engine, make_sessionmaker
from shared.events.cases import CaseEventV1
from shared.events.complaints import (
    CategorySuggestion,
    ComplaintReceivedV1,
    ComplaintSupplementedV1,
    GeoPoint,
    PlaceRef,
)
from shared.outbox import OutboxRow
from shared.settings import Settings

NOTE = "坐标不在本区范围内"


@pytest_asyncio.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(settings, "dispatch", pool_size=2)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture
async def analytics(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(settings, "analytics", pool_size=2)
    yield engine
    await engine.dispose()


def complaint(**overrides: object) -> ComplaintReceivedV1:
    uid = uuid.uuid4().hex[:20].upper()
    values: dict[str, object] = {
        "complaint_id": uid,
        "tracking_code": f"T{uid[:12]}",
        "channel": "wechat",
        "channel_key": uid,
        "kind": "投诉",
        "text": "小区门口每天早上都有人摆摊卖菜，人行道都走不通了",
        "matter_code": "CG001",  # lead 属地: the street that owns the grid
        "received_at": datetime(2026, 9, 29, 2, 0, tzinfo=UTC),
    }
    values.update(overrides)
    return ComplaintReceivedV1(**values)  # type: ignore[arg-type]


def supplement(event: ComplaintReceivedV1, place: PlaceRef, point: GeoPoint | None = None) -> ComplaintSupplementedV1:
    return ComplaintSupplementedV1(
        complaint_id=event.complaint_id,
        tracking_code=event.tracking_code,
        location=point,
        place=place,
        supplemented_at=datetime.now(UTC),
    )


def grid_place(tag: str) -> PlaceRef:
    # a grid code of its own (no duplicate merging with other tests' cases)
    return PlaceRef(
        street_code="S04",
        street_name="双桥子街道",
        community_code="S04C02",
        community_name="东风社区",
        grid_code=f"S04C02G{tag}",
        grid_name=f"东风社区第{tag}网格",
    )


async def _open(session: AsyncSession, event: ComplaintReceivedV1) -> Case:
    cases = await open_cases(session, [event])
    await session.commit()
    assert len(cases) == 1
    return cases[0]


async def _history(session: AsyncSession, case_id: str) -> list[CaseHistory]:
    rows = await session.execute(select(CaseHistory).where(CaseHistory.case_id == case_id).order_by(CaseHistory.seq))
    return list(rows.scalars())


async def _case_events(session: AsyncSession, case_id: str) -> list[CaseEventV1]:
    rows = await session.execute(select(OutboxRow).where(OutboxRow.key == case_id).order_by(OutboxRow.seq))
    return [CaseEventV1.model_validate_json(r.payload) for r in rows.scalars()]


@pytest.mark.asyncio
async def test_point_outside_the_district_goes_to_triage_then_a_location_routes_it(engine: AsyncEngine) -> None:
    maker = make_sessionmaker(engine)
    beijing = GeoPoint(lon=116.397, lat=39.909, source="wechat-gcj02")
    event = complaint(location=beijing, place=PlaceRef(outside_district=True, note=NOTE))
    async with maker() as session:
        case = await _open(session, event)
        assert case.state == "triage" and case.lead is None and case.street_code is None
        triaged = (await _history(session, case.id))[-1]
        assert triaged.action == "triaged" and triaged.reason is not None and triaged.reason.startswith(NOTE)
        assert triaged.details["awaits_place"] is True

        tag = f"{uuid.uuid4().int % 90 + 10}"
        inside = GeoPoint(lon=104.124, lat=30.668, source="wechat-gcj02")
        assert await supplement_cases(session, [supplement(event, grid_place(tag), inside)]) == 1
        await session.commit()
        fresh = await session.get(Case, case.id)
        assert fresh is not None
        assert fresh.state == "dispatched" and fresh.lead == "S04"
        assert fresh.grid_code == f"S04C02G{tag}" and fresh.street_code == "S04"
        assert (fresh.lon, fresh.lat) == (104.124, 30.668)  # the Beijing point is replaced
        supplemented, dispatched = (await _history(session, case.id))[-2:]
        assert supplemented.action == "supplemented"
        assert supplemented.reason == f"补充位置后定位到网格 东风社区第{tag}网格"
        assert dispatched.action == "dispatched" and dispatched.actor == "routing"
        assert dispatched.reason is not None
        assert dispatched.reason.startswith(f"补充位置后定位到网格 东风社区第{tag}网格，自动派往 ")
        assert "双桥子" in dispatched.reason  # the department's name, not its code


@pytest.mark.asyncio
async def test_triage_for_want_of_a_place_is_routed_by_the_supplement(engine: AsyncEngine) -> None:
    maker = make_sessionmaker(engine)
    event = complaint()  # no point, no address: 属地 cannot be resolved
    async with maker() as session:
        case = await _open(session, event)
        assert case.state == "triage"
        assert (await _history(session, case.id))[-1].details["awaits_place"] is True
        # a street-only supplement (an address naming 双桥子) is enough for a 属地 matter
        street_only = PlaceRef(street_code="S04", street_name="双桥子街道")
        await supplement_cases(session, [supplement(event, street_only)])
        await session.commit()
        fresh = await session.get(Case, case.id)
        assert fresh is not None and fresh.state == "dispatched" and fresh.lead == "S04"
        assert (await _history(session, case.id))[-1].reason == "补充位置后定位到双桥子街道，自动派往 双桥子街道"


@pytest.mark.asyncio
async def test_unsure_triage_stays_in_triage_when_placed(engine: AsyncEngine) -> None:
    maker = make_sessionmaker(engine)
    event = complaint(
        matter_code=None, suggestions=[CategorySuggestion(category="CG", matter_code="CG001", confidence=0.2)]
    )
    async with maker() as session:
        case = await _open(session, event)
        assert case.state == "triage"
        assert "awaits_place" not in (await _history(session, case.id))[-1].details
        await supplement_cases(session, [supplement(event, grid_place("77"))])
        await session.commit()
        fresh = await session.get(Case, case.id)
        assert fresh is not None and fresh.state == "triage" and fresh.grid_code == "S04C02G77"
        assert [h.action for h in await _history(session, case.id)][-1] == "supplemented"


@pytest.mark.asyncio
async def test_analytics_counts_a_placed_case_in_its_street(engine: AsyncEngine, analytics: AsyncEngine) -> None:
    event = complaint(channel="app", matter_code="CG002")
    async with make_sessionmaker(engine)() as session:
        case = await _open(session, event)
        tag = f"{uuid.uuid4().int % 90 + 10}"
        await supplement_cases(session, [supplement(event, grid_place(tag))])
        await session.commit()
        events = await _case_events(session, case.id)
    assert [e.action for e in events] == ["created", "triaged", "supplemented", "dispatched"]
    created = events[0]
    day = created.at.astimezone(ZoneInfo("Asia/Shanghai")).date()

    async def counts(session: AsyncSession) -> dict[str, int]:
        rows = await session.execute(
            select(DailyCount.street_code, DailyCount.count).where(
                DailyCount.day == day,
                DailyCount.action == "created",
                DailyCount.channel == "app",
                DailyCount.category == (created.category or "-"),
            )
        )
        return {s: n for s, n in rows.all()}

    async with make_sessionmaker(analytics)() as session:
        before = await counts(session)
        await apply_case_events(session, events[:2])  # created without a street
        await session.commit()
        after_created = await counts(session)
        assert after_created.get("-", 0) == before.get("-", 0) + 1
        await apply_case_events(session, events[2:])  # the supplement places it
        await session.commit()
        after_placed = await counts(session)
        assert after_placed.get("-", 0) == before.get("-", 0)
        assert after_placed.get("S04", 0) == before.get("S04", 0) + 1
        grid = (
            await session.execute(
                select(GridDailyCount.count, GridDailyCount.street_code).where(
                    GridDailyCount.day == day, GridDailyCount.grid_code == f"S04C02G{tag}"
                )
            )
        ).one()
        assert tuple(grid) == (1, "S04")
