"""未诉先办 against real PostgreSQL: a hot spot is raised once (two scans, two concurrent scans, the next day), its
outbox event once; intake opens one patrol task per hot spot however often the event arrives; analytics folds the
task events in either order; the wall screen's snapshot counts them and names no worker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.analytics.hotspots import service as hotspots
from services.analytics.hotspots.config import HotspotSettings
from services.analytics.hotspots.models import HotspotAlert, PatrolTask
from services.analytics.stats.models import GridDailyCount
from services.intake.patrol import service as patrol
from services.intake.patrol.models import PatrolTask as IntakeTask
from shared.db import make_engine, make_sessionmaker
from shared.events.patrol import HotspotDetectedV1, PatrolTaskDoneV1, PatrolTaskOpenedV1
from shared.outbox import OutboxRow
from shared.settings import Settings

pytestmark = pytest.mark.asyncio(loop_scope="session")
DAY = date(2026, 12, 8)
NOW = datetime(2026, 12, 8, 4, 0, tzinfo=UTC)
CFG = HotspotSettings(recent_days=7, baseline_days=28, min_count=5, factor=2.0)
GRID = "S04C02G03"


@pytest.fixture
async def analytics(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(settings, "analytics", pool_size=4)
    sm = make_sessionmaker(engine)
    async with sm() as s:
        await s.execute(delete(GridDailyCount).where(GridDailyCount.grid_code == GRID))
        await s.execute(delete(HotspotAlert))
        await s.execute(delete(PatrolTask))
        await s.execute(text("DELETE FROM outbox WHERE key = :g"), {"g": GRID})
        s.add_all(
            [
                GridDailyCount(day=DAY, grid_code=GRID, category="CG", street_code="S04", count=4),
                GridDailyCount(day=DAY - timedelta(days=3), grid_code=GRID, category="CG", street_code="S04", count=2),
                GridDailyCount(day=DAY, grid_code=GRID, category="SZ", street_code="S04", count=2),
                GridDailyCount(day=DAY - timedelta(days=20), grid_code=GRID, category="CG", street_code="S04", count=1),
            ]
        )
        await s.commit()
    yield sm
    await engine.dispose()


async def test_a_hot_spot_is_raised_once(analytics: async_sessionmaker[AsyncSession]) -> None:
    sm = analytics

    async def scan(day: date = DAY) -> list[HotspotAlert]:
        async with sm() as s:
            raised = await hotspots.scan(s, day=day, now=NOW, cfg=CFG)
            await s.commit()
            return [a for a in raised if a.grid_code == GRID]

    first = await scan()
    assert [(a.grid_code, a.category, a.recent_count) for a in first] == [(GRID, "CG", 6)]
    assert first[0].id == f"{GRID}:CG:2026-12-08" and first[0].baseline_daily == round(1 / 28, 4)
    assert await scan() == []  # the same day again
    both = await asyncio.gather(scan(), scan())  # two replicas at once
    assert both == [[], []]
    assert await scan(DAY + timedelta(days=1)) == []  # still the same window: not again tomorrow
    async with sm() as s:
        alerts = (await s.execute(select(HotspotAlert).where(HotspotAlert.grid_code == GRID))).scalars().all()
        rows = (await s.execute(select(OutboxRow).where(OutboxRow.key == GRID))).scalars().all()
    assert len(alerts) == 1
    assert [(r.topic, r.key, r.event_type) for r in rows] == [
        ("linkage.analytics.hotspots.v1", GRID, "cn.linkage.analytics.hotspot_detected.v1")
    ]
    # a week later the window has moved on: the same place may be raised again if it is still hot
    async with sm() as s:
        s.add(GridDailyCount(day=DAY + timedelta(days=7), grid_code=GRID, category="CG", street_code="S04", count=9))
        await s.commit()
    later = await scan(DAY + timedelta(days=7))
    assert [a.id for a in later] == [f"{GRID}:CG:2026-12-15"]


async def test_patrol_tasks_are_counted_in_either_order(analytics: async_sessionmaker[AsyncSession]) -> None:
    sm = analytics
    opened = PatrolTaskOpenedV1(
        task_id="01JTASK0000000000000000001",
        hotspot_id="h1",
        grid_code=GRID,
        street_code="S04",
        category="CG",
        opened_at=NOW,
        due_at=NOW + timedelta(days=2),
    )
    done = PatrolTaskDoneV1(
        task_id=opened.task_id,
        hotspot_id="h1",
        grid_code=GRID,
        street_code="S04",
        category="CG",
        result="nothing_found",
        worker_id="W-S04C02G03-1",
        photos=0,
        done_at=NOW + timedelta(hours=1),
    )
    async with sm() as s:
        await hotspots.apply_patrol_events(s, [done])
        await hotspots.apply_patrol_events(s, [opened])
        await s.commit()
    async with sm() as s:
        counts = await hotspots.patrol_counts(s, DAY)
        task = (await s.execute(select(PatrolTask))).scalar_one()
    assert task.opened_at == NOW and task.done_at == done.done_at and task.result == "nothing_found"
    assert counts["open"] == 0 and counts["opened_today"] == 1 and counts["done_today"] == 1
    assert {r["code"]: r["count"] for r in counts["done_today_by_result"]} == {
        "patrolled": 0,
        "handled": 0,
        "nothing_found": 1,
    }


async def test_intake_opens_one_task_per_hot_spot(settings: Settings) -> None:
    engine = make_engine(settings, "intake", pool_size=2)
    sm = make_sessionmaker(engine)
    hot = HotspotDetectedV1(
        hotspot_id=f"{GRID}:HB:2026-12-08",
        grid_code=GRID,
        street_code="S04",
        category="HB",
        window_start=date(2026, 12, 2),
        window_end=DAY,
        recent_count=7,
        baseline_daily=0.1,
        baseline_days=28,
        detected_at=NOW,
    )
    try:
        async with sm() as s:
            await s.execute(delete(IntakeTask).where(IntakeTask.grid_code == GRID))
            await s.commit()
        outcomes = []
        for _ in range(3):
            async with sm() as s:
                outcomes.append(await patrol.open_for_hotspot(s, hot, now=NOW))
                await s.commit()
        assert outcomes == [True, False, False]
        async with sm() as s:
            tasks = await patrol.list_for_grids(s, [GRID])
            assert len(tasks) == 1
            out = patrol.task_out(tasks[0])
            assert out.status == "open" and out.category_name == "生态环境" and out.grid_name
            assert out.due_at is not None and out.due_at > NOW
            assert "近7日「生态环境」类诉求7件" in out.reason
            assert await patrol.record_result(s, tasks[0], worker_id="W1", result="patrolled", note="已巡查，无异常")
            await s.commit()
            assert not await patrol.record_result(
                s, tasks[0], worker_id="W1", result="patrolled", note="已巡查，无异常"
            )
            from shared.errors import Conflict

            with pytest.raises(Conflict):
                await patrol.record_result(s, tasks[0], worker_id="W2", result="handled", note=None)
            events = (
                (await s.execute(select(OutboxRow.event_type).where(OutboxRow.key == GRID).order_by(OutboxRow.seq)))
                .scalars()
                .all()
            )
        assert events[-2:] == ["cn.linkage.patrol.task_opened.v1", "cn.linkage.patrol.task_done.v1"]
    finally:
        await engine.dispose()
