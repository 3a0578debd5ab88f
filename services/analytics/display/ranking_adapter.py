"""Thin adapter from the measures' service functions to the wall screen's 三率 / 红黑榜 panels (this month).

Uses the measures' documented API (``measures_for``, ``ranking_for``, ``pick_lists``) once per call: the figures are
computed once and the ranking and the lists are drawn from them; only names, rates and scores leave.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics.measures import service as measures
from services.analytics.measures.config import default_config
from services.analytics.measures.periods import month_period
from services.analytics.stats import service as stats

RANKING_ROWS = 12


def _rates(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "response_rate": item.get("response_rate"),
        "solve_rate": item.get("solve_rate"),
        "satisfaction_rate": item.get("satisfaction_rate"),
        "on_time_rate": item.get("on_time_rate"),
    }


def _entry(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": item["name"],
        "rank": item.get("rank"),
        "score": item.get("score"),
        "assigned": item.get("assigned", 0),
        "eligible": bool(item.get("eligible")),
        **_rates(item),
    }


async def month_panel(session: AsyncSession, *, now: datetime | None = None) -> dict[str, Any]:
    """This month's district 三率, department ranking (ranked first, then the others with figures) and 红黑榜."""
    now = now or datetime.now(UTC)
    config = default_config()
    period = month_period(stats.local_day(now).replace(day=1))
    figures = await measures.measures_for(session, period, group_by="department", now=now, config=config)
    ranked = await measures.ranking_for(session, period, kind="department", now=now, config=config, figures=figures)
    lists = measures.pick_lists(ranked["items"], config, period.kind)
    items = [i for i in ranked["items"] if i["eligible"] or i.get("assigned") or i.get("score") is not None]
    return {
        "period": period.label,
        "min_volume": ranked["min_volume"],
        "total": _rates(figures["total"]),
        "ranking": [_entry(i) for i in items[:RANKING_ROWS]],
        "red": [{"name": i["name"], "score": i["score"]} for i in lists["red"]],
        "black": [{"name": i["name"], "score": i["score"]} for i in lists["black"]],
    }
