"""The wall screen's snapshot: one compact JSON document with everything ``/display`` shows (aggregates only).

Nothing personal is ever in it: the projections it reads hold no text, no reporter, no address; cases appear
as a masked tracking code (date part and the last four characters), their category/matter, street and grid.

Parts: today's counters (Asia/Shanghai), channels, categories, hours, a 14-day trend, per-grid figures for the
map (cases of the last 7 days, overdue cases now), per-street figures, the overdue list (超期) and the red list
(督办 / 红色预警), this month's 三率 ranking and 红黑榜 (through the measures' own service functions), 未诉先办
hot spots with their patrol tasks and today's patrol counts, the emergency hand-offs to 110/119/120/122 still
awaiting acknowledgement (the red alert), and the latest events (ticker).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.analytics.display import ranking_adapter
from services.analytics.display.geo import district_map
from services.analytics.handoffs import service as handoffs
from services.analytics.hotspots import service as hotspots
from services.analytics.hotspots.config import hotspot_settings
from services.analytics.measures.models import MeasureCase
from services.analytics.stats import names
from services.analytics.stats import service as stats
from services.analytics.stats.models import CaseStatus, DailyCount
from shared.calendar import default_calendar
from shared.catalog import default_catalog

UNKNOWN = "-"
TREND_DAYS = 14
MAP_DAYS = 7
LIST_LIMIT = 12
TICKER_LIMIT = 10
HANDOFF_LIMIT = 6


def mask_code(code: str | None) -> str:
    """``261124K7Q2PXW9HMT4RZC`` → ``261124…4RZC``: the day it came in and enough to find it, not enough to look
    it up (the public tracking page needs the whole code)."""
    if not code:
        return "—"
    return code[:6] + "…" + code[-4:] if len(code) > 12 else code[:6] + "…"


def late_text(deadline: datetime, now: datetime) -> tuple[int, str]:
    """(working days late, how a person reads it) for a deadline in the past."""
    cal = default_calendar()
    days = cal.working_days_between(stats.local_day(deadline), stats.local_day(now))
    if days <= 0:
        return 0, "超期不足1工作日"
    return days, f"超期{days}个工作日"


def left_text(deadline: datetime | None, now: datetime) -> str:
    if deadline is None:
        return "无时限"
    if deadline <= now:
        return late_text(deadline, now)[1]
    days = default_calendar().working_days_between(stats.local_day(now), stats.local_day(deadline))
    return "今日到期" if days <= 0 else f"剩{days}个工作日"


def _matter_name(code: str | None) -> str | None:
    if not code:
        return None
    matter = default_catalog().get_matter(code)
    return matter.name if matter else None


def _street_for(street: str, grid: str, grid_streets: dict[str, str]) -> str:
    if street and street != UNKNOWN:
        return street
    return grid_streets.get(grid, UNKNOWN) if grid and grid != UNKNOWN else UNKNOWN


def _case_item(status: CaseStatus, tracking: str | None, matter: str | None, now: datetime) -> dict[str, Any]:
    grid_streets = district_map().street_of_grid()
    street = _street_for(status.street_code, status.grid_code, grid_streets)
    item: dict[str, Any] = {
        "code": mask_code(tracking),
        "category_name": names.category_name(status.category),
        "matter_name": _matter_name(matter) or names.category_name(status.category),
        "street_name": names.street_name(street),
        "grid_name": names.grid_name(status.grid_code) if status.grid_code != UNKNOWN else None,
        "department": names.department_name(status.lead) if status.lead else "待派单",
        "supervised": status.supervised,
        "urged": status.urged,
        "warn_level": status.warn_level,
    }
    if status.deadline_at is not None and status.deadline_at <= now:
        item["late_days"], item["late_text"] = late_text(status.deadline_at, now)
    else:
        item["late_days"], item["late_text"] = 0, left_text(status.deadline_at, now)
    return item


def _overdue(now: datetime) -> Any:
    return and_(
        CaseStatus.state.in_(stats.CLOCK_STATES),
        CaseStatus.deadline_at.is_not(None),
        CaseStatus.deadline_at < now,
    )


def _red(now: datetime) -> Any:
    """督办 or 红色预警 (or 通报) on a case still in handling."""
    return and_(
        CaseStatus.is_open.is_(True),
        or_(CaseStatus.supervised > 0, CaseStatus.warn_level == "red", CaseStatus.publicized.is_(True)),
    )


async def _case_list(session: AsyncSession, where: Any, order: list[Any], now: datetime) -> list[dict[str, Any]]:
    rows = (
        await session.execute(
            select(CaseStatus, MeasureCase.tracking_code, MeasureCase.matter_code)
            .outerjoin(MeasureCase, MeasureCase.case_id == CaseStatus.case_id)
            .where(where)
            .order_by(*order)
            .limit(LIST_LIMIT)
        )
    ).all()
    return [_case_item(s, code, matter, now) for s, code, matter in rows]


async def _places(session: AsyncSession, day: date, now: datetime) -> dict[str, Any]:
    """Per grid (cases of the last ``MAP_DAYS`` days, cases received today, overdue now) and per street (today,
    overdue). A case with a grid always counts in its grid and in that grid's street."""
    grid_streets = district_map().street_of_grid()
    start_today, _ = stats.day_bounds(day)
    start_map, _ = stats.day_bounds(day - timedelta(days=MAP_DAYS - 1))
    today_col = func.count().filter(CaseStatus.received_at >= start_today)
    rows = (
        await session.execute(
            select(
                CaseStatus.street_code,
                CaseStatus.grid_code,
                func.count().filter(CaseStatus.received_at >= start_map),
                today_col,
                func.count().filter(_overdue(now)),
            )
            .where(or_(CaseStatus.received_at >= start_map, _overdue(now)))
            .group_by(CaseStatus.street_code, CaseStatus.grid_code)
        )
    ).all()
    volume: Counter[str] = Counter()
    today_grid: Counter[str] = Counter()
    overdue: Counter[str] = Counter()
    street_today: Counter[str] = Counter()
    street_overdue: Counter[str] = Counter()
    street_week: Counter[str] = Counter()
    for street, grid, week, today_n, late in rows:
        s = _street_for(str(street), str(grid), grid_streets)
        if grid and grid != UNKNOWN:
            volume[grid] += int(week)
            today_grid[grid] += int(today_n)
            overdue[grid] += int(late)
        street_today[s] += int(today_n)
        street_overdue[s] += int(late)
        street_week[s] += int(week)
    streets = [
        {
            "code": code,
            "name": name,
            "today": street_today.get(code, 0),
            "week": street_week.get(code, 0),
            "overdue": street_overdue.get(code, 0),
        }
        for code, name in names.street_names().items()
    ]
    top = sorted(((g, n) for g, n in volume.items() if n), key=lambda x: (-x[1], x[0]))[:8]
    return {
        "grids": {
            "volume": {g: n for g, n in volume.items() if n},
            "today": {g: n for g, n in today_grid.items() if n},
            "overdue": {g: n for g, n in overdue.items() if n},
        },
        "streets": streets,
        "unplaced": {"today": street_today.get(UNKNOWN, 0), "overdue": street_overdue.get(UNKNOWN, 0)},
        "top_grids": [
            {
                "grid_code": g,
                "grid_name": names.grid_name(g),
                "street_name": names.street_name(grid_streets.get(g, UNKNOWN)),
                "count": n,
                "today": today_grid.get(g, 0),
            }
            for g, n in top
        ],
    }


async def _handoffs(session: AsyncSession, now: datetime) -> dict[str, Any]:
    """紧急警情转交 awaiting acknowledgement: service, masked case number, matter, street, minutes waiting, level."""
    rows, total = await handoffs.waiting(session, limit=HANDOFF_LIMIT)
    grid_streets = district_map().street_of_grid()
    items = []
    for h in rows:
        street = _street_for(h.street_code, h.grid_code, grid_streets)
        items.append(
            {
                "code": mask_code(h.tracking_code),
                "service": h.service,
                "service_name": handoffs.service_name(h.service),
                "matter_name": _matter_name(h.matter_code) or names.category_name(h.category or UNKNOWN),
                "street_name": names.street_name(street) if street != UNKNOWN else "未定位",
                "transferred_at": h.transferred_at.isoformat(),
                "waiting_min": max(int((now - h.transferred_at).total_seconds() // 60), 0),
                "alert_level": h.alert_level,
                "alert_name": handoffs.alert_name(h.alert_level),
                "escalations": h.escalations,
                "state_name": "已推送，待确认接警" if h.sent_at is not None else "待推送",
            }
        )
    return {"total": total, "items": items}


async def _trend(session: AsyncSession, day: date) -> list[dict[str, Any]]:
    first = day - timedelta(days=TREND_DAYS - 1)
    rows = (
        await session.execute(
            select(DailyCount.day, DailyCount.action, func.sum(DailyCount.count))
            .where(
                DailyCount.day >= first,
                DailyCount.day <= day,
                DailyCount.action.in_(("created", "replied", "closed")),
            )
            .group_by(DailyCount.day, DailyCount.action)
        )
    ).all()
    by_day: dict[date, Counter[str]] = {first + timedelta(days=i): Counter() for i in range(TREND_DAYS)}
    for d, action, n in rows:
        by_day.setdefault(d, Counter())[str(action)] += int(n)
    return [
        {"day": d.isoformat(), "received": c["created"], "replied": c["replied"], "closed": c["closed"]}
        for d, c in sorted(by_day.items())
    ]


async def snapshot(session: AsyncSession, *, now: datetime | None = None, with_ranking: bool = True) -> dict[str, Any]:
    """Everything the wall screen shows, as of ``now``."""
    now = now or datetime.now(UTC)
    day = stats.local_day(now)
    o = await stats.overview(session, day, now=now)
    places = await _places(session, day, now)
    overdue_total = int(
        (await session.execute(select(func.count()).select_from(CaseStatus).where(_overdue(now)))).scalar_one()
    )
    red_total = int((await session.execute(select(func.count()).select_from(CaseStatus).where(_red(now)))).scalar_one())
    overdue_list = await _case_list(session, _overdue(now), [CaseStatus.deadline_at.asc(), CaseStatus.case_id], now)
    red_list = await _case_list(
        session,
        _red(now),
        [CaseStatus.supervised.desc(), CaseStatus.deadline_at.asc().nulls_last(), CaseStatus.case_id],
        now,
    )
    cfg = hotspot_settings()
    alerts = await hotspots.active_alerts(session, day=day, cfg=cfg, limit=20)
    patrol = await hotspots.patrol_counts(session, day)
    events = (await stats.latest_events(session, TICKER_LIMIT))["items"]
    for e in events:
        e.pop("tracking_code", None)  # the ticker needs no case reference at all
    out: dict[str, Any] = {
        "v": 1,
        "day": day.isoformat(),
        "at": now.isoformat(),
        "kpi": {
            "volume": o["volume"],
            "dispatched": o["dispatched"],
            "replied": o["replied"],
            "closed": o["closed"],
            "transferred": o["transferred"],
            "open": o["open"],
            "triage": o["triage"],
            "warning": o["warning"],
            "overdue": o["overdue"],
            "awaiting_survey": o["awaiting_survey"],
            "urged": o["urged"],
            "supervised": o["supervised"],
            "on_time_rate": o["on_time"]["rate"],
            "on_time_rate_all": o["on_time"]["rate_all"],
        },
        "channels": [{"name": c["name"], "count": c["count"]} for c in o["by_channel"]],
        "categories": [{"name": c["name"], "count": c["count"]} for c in o["by_category"] if c["count"]][:10],
        "hours": [h["count"] for h in o["by_hour"]],
        "trend": await _trend(session, day),
        **places,
        "overdue": {"total": overdue_total, "items": overdue_list},
        "red": {"total": red_total, "items": red_list},
        "hotspots": {
            "rule": {"recent_days": cfg.recent_days, "baseline_days": cfg.baseline_days, "min_count": cfg.min_count},
            "active": sum(1 for a in alerts if a["task"]["state"] != "done"),
            "items": [
                {
                    "grid_code": a["grid_code"],
                    "grid_name": a["grid_name"],
                    "street_name": a["street_name"],
                    "category_name": a["category_name"],
                    "recent_count": a["recent_count"],
                    "baseline_daily": a["baseline_daily"],
                    "recent_daily": a["recent_daily"],
                    "ratio": a["ratio"],
                    "task": a["task"]["state"],
                    "task_name": a["task"]["state_name"],
                }
                for a in alerts
            ],
        },
        "patrol": patrol,
        "handoffs": await _handoffs(session, now),
        "events": [
            {
                "at": e["at"],
                "action": e["action"],
                "action_name": e["action_name"],
                "category_name": e["category_name"],
                "street_name": e["street_name"],
                "grid_name": e["grid_name"] if e["grid_code"] != UNKNOWN else None,
            }
            for e in events
        ],
    }
    if with_ranking:
        out["measures"] = await ranking_adapter.month_panel(session, now=now)
    return out


def fingerprint(snap: dict[str, Any]) -> str:
    """What changed: the snapshot without its timestamp."""
    body = {k: v for k, v in snap.items() if k != "at"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()[:16]


class SnapshotHub:
    """One snapshot per ``max_age_s`` for every screen of this process (the database answers once, whatever the
    number of screens); the slow-moving ranking part is recomputed every ``ranking_age_s`` only."""

    def __init__(self, max_age_s: float = 2.0, ranking_age_s: float = 30.0) -> None:
        self.max_age_s = max_age_s
        self.ranking_age_s = ranking_age_s
        self._lock = asyncio.Lock()
        self._snap: dict[str, Any] | None = None
        self._fp = ""
        self._at = 0.0
        self._ranking: dict[str, Any] | None = None
        self._ranking_at = 0.0

    async def get(self, sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[dict[str, Any], str]:
        async with self._lock:
            clock = time.monotonic()
            if self._snap is None or clock - self._at >= self.max_age_s:
                async with sessionmaker() as session:
                    snap = await snapshot(session, with_ranking=False)
                    if self._ranking is None or clock - self._ranking_at >= self.ranking_age_s:
                        self._ranking = await ranking_adapter.month_panel(session)
                        self._ranking_at = clock
                snap["measures"] = self._ranking
                self._snap, self._fp, self._at = snap, fingerprint(snap), clock
            return self._snap, self._fp


HUB = SnapshotHub()
Getter = Callable[[], Awaitable[tuple[dict[str, Any], str]]]
