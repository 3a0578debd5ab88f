"""Count case events into daily projections (one upsert per batch)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics.stats.models import DailyCount
from shared.events.cases import CaseEventV1

SHANGHAI = ZoneInfo("Asia/Shanghai")
Key = tuple[date, str, str, str, str]


def count_key(event: CaseEventV1) -> Key:
    street = event.place.street_code if event.place and event.place.street_code else "-"
    return (event.at.astimezone(SHANGHAI).date(), event.action, event.category or "-", event.channel or "-", street)


async def apply_case_events(session: AsyncSession, events: Sequence[CaseEventV1]) -> None:
    counts = Counter(count_key(e) for e in events)
    if not counts:
        return
    rows = [
        {"day": k[0], "action": k[1], "category": k[2], "channel": k[3], "street_code": k[4], "count": n}
        for k, n in sorted(counts.items())
    ]
    stmt = insert(DailyCount).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=["day", "action", "category", "channel", "street_code"],
        set_={"count": DailyCount.count + stmt.excluded.count},
    )
    await session.execute(stmt)


async def summary(session: AsyncSession, day: date | None = None) -> dict[str, object]:
    stmt = select(DailyCount.action, func.sum(DailyCount.count)).group_by(DailyCount.action)
    by_cat = select(DailyCount.category, func.sum(DailyCount.count)).where(DailyCount.action == "created")
    by_channel = select(DailyCount.channel, func.sum(DailyCount.count)).where(DailyCount.action == "created")
    if day:
        stmt = stmt.where(DailyCount.day == day)
        by_cat = by_cat.where(DailyCount.day == day)
        by_channel = by_channel.where(DailyCount.day == day)
    actions = {a: int(n) for a, n in (await session.execute(stmt)).all()}
    categories = {c: int(n) for c, n in (await session.execute(by_cat.group_by(DailyCount.category))).all()}
    channels = {c: int(n) for c, n in (await session.execute(by_channel.group_by(DailyCount.channel))).all()}
    return {
        "day": day.isoformat() if day else None,
        "cases_created": actions.get("created", 0),
        "by_action": actions,
        "by_category": categories,
        "by_channel": channels,
    }
