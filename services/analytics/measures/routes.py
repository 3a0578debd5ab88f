"""``/api/v1/measures/…``: the figures departments are judged by, their ranking and 红黑榜 (aggregates only)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from services.analytics.measures import service
from services.analytics.measures.config import default_config
from shared.access import public
from shared.app import SessionDep

router = APIRouter(prefix="/api/v1/measures", tags=["measures"])

PeriodQ = Annotated[
    Literal["day", "week", "month", "custom"],
    Query(description="day, week (ISO, Monday–Sunday), month, or custom (start..end inclusive, ≤ 366 days)"),
]
StartQ = Annotated[date | None, Query(description="A day inside the period (default today, Asia/Shanghai)")]
EndQ = Annotated[date | None, Query(description="Last day of a custom period (inclusive)")]
KindQ = Annotated[
    Literal["department", "street"],
    Query(description="department: departments and utilities; street: street offices as handlers (属地)"),
]
AGGREGATES = public("aggregate figures per department/street/grid/category/channel; no personal data")


@router.get(
    "", summary="Measures of a period, per department, street, grid, category or channel", openapi_extra=AGGREGATES
)
async def get_measures(
    session: SessionDep,
    period: PeriodQ = "month",
    start: StartQ = None,
    end: EndQ = None,
    group_by: Annotated[
        Literal["total", "department", "street", "grid", "category", "channel"], Query(description="Grouping")
    ] = "total",
) -> dict[str, Any]:
    """Counts and rates (受理量, 派单量, 24 小时签收率, 响应率, 回退率, 按时办结率, 重办率, 一次性办结率, 解决率,
    满意率, 当前超期) for the whole district (``total``) and per group; definitions in docs/measures.md."""
    return await service.measures(session, period=period, start=start, end=end, group_by=group_by)


@router.get("/ranking", summary="Department ranking by composite score (weights in config)", openapi_extra=AGGREGATES)
async def get_ranking(
    session: SessionDep, period: PeriodQ = "month", start: StartQ = None, end: EndQ = None, kind: KindQ = "department"
) -> dict[str, Any]:
    """Score 0–100 = weighted mean of the rates (回退率 and 重办率 as 1 − rate) and 逆向评价; departments with fewer
    dispatches than the period's minimum volume are listed unranked after the others."""
    return await service.ranking(session, period=period, start=start, end=end, kind=kind)


@router.get("/red-black", summary="红黑榜 of a period (thresholds in config)", openapi_extra=AGGREGATES)
async def get_red_black(
    session: SessionDep, period: PeriodQ = "month", start: StartQ = None, end: EndQ = None, kind: KindQ = "department"
) -> dict[str, Any]:
    return await service.red_black_list(session, period=period, start=start, end=end, kind=kind)


@router.get("/trend", summary="Cases received, replied and closed per day of a period", openapi_extra=AGGREGATES)
async def get_trend(
    session: SessionDep, period: PeriodQ = "month", start: StartQ = None, end: EndQ = None
) -> dict[str, Any]:
    return {"items": await service.trend(session, period=period, start=start, end=end)}


@router.get("/config", summary="The weights and thresholds in force", openapi_extra=public("configuration, no data"))
async def get_config() -> dict[str, Any]:
    return default_config().model_dump(mode="json")
