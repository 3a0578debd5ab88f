"""未诉先办: find grid × category hot spots above their own baseline, raise each once, count the patrol tasks.

:func:`find_hotspots` is the rule (pure, over per-day counts); :func:`scan` applies it to ``grid_daily_counts``,
stores each new alert and stages its ``HotspotDetectedV1`` in the outbox in the caller's transaction (intake
opens the patrol task). Idempotent: an alert's id is ``grid:category:window_end`` (the same hot spot found
twice on one day, by two replicas or two scans, is one row and one event), and a grid × category alerted in
the last ``recent_days`` days is not raised again.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics.hotspots.config import HotspotSettings, hotspot_settings
from services.analytics.hotspots.models import HotspotAlert, PatrolTask
from services.analytics.stats import names
from services.analytics.stats.models import GridDailyCount
from services.analytics.stats.service import day_bounds, today
from shared import topics
from shared.events.patrol import PATROL_RESULT_NAMES, HotspotDetectedV1, PatrolTaskDoneV1, PatrolTaskOpenedV1
from shared.outbox import add_event

UNKNOWN = "-"


@dataclass(frozen=True)
class Windows:
    """The recent window (``recent_start..day``) and the baseline before it (``baseline_start..baseline_end``)."""

    day: date
    recent_start: date
    baseline_start: date
    baseline_end: date


def windows(day: date, cfg: HotspotSettings) -> Windows:
    recent_start = day - timedelta(days=cfg.recent_days - 1)
    baseline_end = recent_start - timedelta(days=1)
    return Windows(day, recent_start, baseline_end - timedelta(days=cfg.baseline_days - 1), baseline_end)


def is_hot(recent_count: int, baseline_count: int, cfg: HotspotSettings) -> bool:
    """At least ``min_count`` in the window, and the window's daily mean ≥ ``factor`` × the baseline's."""
    if recent_count < cfg.min_count:
        return False
    return recent_count / cfg.recent_days >= cfg.factor * (baseline_count / cfg.baseline_days)


@dataclass(frozen=True)
class Candidate:
    grid_code: str
    street_code: str
    category: str
    recent_count: int
    baseline_count: int
    window_start: date
    window_end: date
    baseline_days: int

    @property
    def hotspot_id(self) -> str:
        return f"{self.grid_code}:{self.category}:{self.window_end.isoformat()}"

    @property
    def baseline_daily(self) -> float:
        return round(self.baseline_count / self.baseline_days, 4)


def find_hotspots(rows: Iterable[tuple[date, str, str, str, int]], day: date, cfg: HotspotSettings) -> list[Candidate]:
    """Hot grid × category pairs on ``day`` from ``(day, grid_code, category, street_code, count)`` rows (rows
    outside both windows, unknown grids and unclassified cases are ignored). Most excess first."""
    w = windows(day, cfg)
    recent: dict[tuple[str, str], int] = defaultdict(int)
    baseline: dict[tuple[str, str], int] = defaultdict(int)
    streets: dict[str, str] = {}
    for d, grid, category, street, count in rows:
        if grid == UNKNOWN or category == UNKNOWN or not grid or not category:
            continue
        if street and street != UNKNOWN:
            streets[grid] = street
        if w.recent_start <= d <= w.day:
            recent[(grid, category)] += int(count)
        elif w.baseline_start <= d <= w.baseline_end:
            baseline[(grid, category)] += int(count)
    found = [
        Candidate(
            grid_code=grid,
            street_code=streets.get(grid, UNKNOWN),
            category=category,
            recent_count=n,
            baseline_count=baseline[(grid, category)],
            window_start=w.recent_start,
            window_end=w.day,
            baseline_days=cfg.baseline_days,
        )
        for (grid, category), n in recent.items()
        if is_hot(n, baseline[(grid, category)], cfg)
    ]
    found.sort(key=lambda c: (-(c.recent_count / cfg.recent_days - c.baseline_count / cfg.baseline_days), c.hotspot_id))
    return found


def _event_id(hotspot_id: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"linkage:hotspot:{hotspot_id}"))


async def scan(
    session: AsyncSession,
    *,
    day: date | None = None,
    now: datetime | None = None,
    cfg: HotspotSettings | None = None,
) -> list[HotspotAlert]:
    """Find today's hot spots and raise the new ones (row + outbox event); returns the alerts raised now."""
    cfg = cfg or hotspot_settings()
    day = day or today()
    now = now or datetime.now(UTC)
    w = windows(day, cfg)
    rows = (
        await session.execute(
            select(
                GridDailyCount.day,
                GridDailyCount.grid_code,
                GridDailyCount.category,
                GridDailyCount.street_code,
                GridDailyCount.count,
            ).where(
                GridDailyCount.day >= w.baseline_start,
                GridDailyCount.day <= w.day,
                GridDailyCount.grid_code != UNKNOWN,
                GridDailyCount.category != UNKNOWN,
            )
        )
    ).all()
    candidates = find_hotspots(((r[0], r[1], r[2], r[3], int(r[4])) for r in rows), day, cfg)
    if not candidates:
        return []
    alerted = {
        (g, c)
        for g, c in (
            await session.execute(
                select(HotspotAlert.grid_code, HotspotAlert.category).where(
                    HotspotAlert.window_end > day - timedelta(days=cfg.recent_days)
                )
            )
        ).all()
    }
    raised: list[HotspotAlert] = []
    for c in candidates:
        if (c.grid_code, c.category) in alerted:
            continue
        values: dict[str, Any] = {
            "id": c.hotspot_id,
            "grid_code": c.grid_code,
            "street_code": c.street_code,
            "category": c.category,
            "window_start": c.window_start,
            "window_end": c.window_end,
            "recent_count": c.recent_count,
            "baseline_daily": c.baseline_daily,
            "baseline_days": c.baseline_days,
            "detected_at": now,
        }
        stmt = insert(HotspotAlert).values(**values).on_conflict_do_nothing(index_elements=["id"])
        inserted = (await session.execute(stmt.returning(HotspotAlert.id))).scalar_one_or_none()
        if inserted is None:
            continue  # another scan (or replica) raised it first
        event = HotspotDetectedV1(
            hotspot_id=c.hotspot_id,
            grid_code=c.grid_code,
            street_code=None if c.street_code == UNKNOWN else c.street_code,
            category=c.category,
            window_start=c.window_start,
            window_end=c.window_end,
            recent_count=c.recent_count,
            baseline_daily=c.baseline_daily,
            baseline_days=c.baseline_days,
            detected_at=now,
        )
        add_event(
            session,
            topics.HOTSPOTS,
            event,
            key=c.grid_code,
            source="analytics",
            subject=c.hotspot_id,
            event_id=_event_id(c.hotspot_id),
        )
        raised.append(HotspotAlert(**values))
    await session.flush()
    return raised


# --------------------------------------------------------------------------------------------- patrol tasks
async def apply_patrol_events(session: AsyncSession, events: Sequence[PatrolTaskOpenedV1 | PatrolTaskDoneV1]) -> None:
    """Fold intake's patrol task events into ``patrol_tasks`` (either order: a done event may come first)."""
    for e in events:
        base = {
            "task_id": e.task_id,
            "hotspot_id": e.hotspot_id,
            "grid_code": e.grid_code,
            "street_code": e.street_code or UNKNOWN,
            "category": e.category,
        }
        if isinstance(e, PatrolTaskOpenedV1):
            stmt = insert(PatrolTask).values(**base, opened_at=e.opened_at, due_at=e.due_at)
            stmt = stmt.on_conflict_do_update(
                index_elements=["task_id"], set_={"opened_at": stmt.excluded.opened_at, "due_at": stmt.excluded.due_at}
            )
        else:
            stmt = insert(PatrolTask).values(**base, done_at=e.done_at, result=e.result)
            stmt = stmt.on_conflict_do_update(
                index_elements=["task_id"], set_={"done_at": stmt.excluded.done_at, "result": stmt.excluded.result}
            )
        await session.execute(stmt)


async def patrol_counts(session: AsyncSession, day: date | None = None) -> dict[str, Any]:
    """Patrol tasks: still open, opened on ``day``, done on ``day`` (by result), all done."""
    day = day or today()
    start, end = day_bounds(day)
    t = PatrolTask
    done_today = and_(t.done_at >= start, t.done_at < end)
    row = (
        await session.execute(
            select(
                func.count().filter(t.opened_at.is_not(None), t.done_at.is_(None)),
                func.count().filter(t.opened_at >= start, t.opened_at < end),
                func.count().filter(done_today),
                func.count().filter(t.done_at.is_not(None)),
            )
        )
    ).one()
    by_result = {
        str(r): int(n)
        for r, n in (await session.execute(select(t.result, func.count()).where(done_today).group_by(t.result))).all()
    }
    return {
        "open": int(row[0]),
        "opened_today": int(row[1]),
        "done_today": int(row[2]),
        "done_all": int(row[3]),
        "done_today_by_result": [
            {"code": code, "name": name, "count": by_result.get(code, 0)} for code, name in PATROL_RESULT_NAMES.items()
        ],
    }


async def active_alerts(
    session: AsyncSession, *, day: date | None = None, cfg: HotspotSettings | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Alerts raised in the last ``recent_days`` days (newest first) with their patrol task's state."""
    cfg = cfg or hotspot_settings()
    day = day or today()
    rows = (
        await session.execute(
            select(HotspotAlert, PatrolTask)
            .outerjoin(PatrolTask, PatrolTask.hotspot_id == HotspotAlert.id)
            .where(HotspotAlert.window_end > day - timedelta(days=cfg.recent_days))
            .order_by(HotspotAlert.detected_at.desc(), HotspotAlert.id)
            .limit(limit)
        )
    ).all()
    return [alert_out(a, t, cfg) for a, t in rows]


def alert_out(a: HotspotAlert, task: PatrolTask | None, cfg: HotspotSettings) -> dict[str, Any]:
    recent_daily = a.recent_count / max(1, (a.window_end - a.window_start).days + 1)
    if task is None:
        state, state_name = "pending", "待派巡查"
    elif task.done_at is None:
        state, state_name = "open", "巡查中"
    else:
        state, state_name = "done", PATROL_RESULT_NAMES.get(task.result or "", "已完成")
    return {
        "id": a.id,
        "grid_code": a.grid_code,
        "grid_name": names.grid_name(a.grid_code),
        "street_code": a.street_code,
        "street_name": names.street_name(a.street_code),
        "category": a.category,
        "category_name": names.category_name(a.category),
        "window_start": a.window_start.isoformat(),
        "window_end": a.window_end.isoformat(),
        "recent_count": a.recent_count,
        "recent_daily": round(recent_daily, 2),
        "baseline_daily": round(a.baseline_daily, 2),
        "ratio": round(recent_daily / a.baseline_daily, 1) if a.baseline_daily else None,
        "detected_at": a.detected_at.isoformat(),
        "task": {
            "state": state,
            "state_name": state_name,
            "task_id": task.task_id if task else None,
            "result": task.result if task else None,
            "done_at": task.done_at.isoformat() if task and task.done_at else None,
        },
    }
