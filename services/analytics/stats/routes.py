"""``/api/v1/stats/…`` (command center figures) and ``/api/v1/open-data/…`` (aggregates, no personal data)."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from services.analytics.stats import service
from shared.access import public
from shared.app import SessionDep
from shared.errors import InvalidInput

router = APIRouter(prefix="/api/v1/stats", tags=["stats"])
open_data_router = APIRouter(prefix="/api/v1/open-data", tags=["open data"])


@router.get("/summary", openapi_extra=public("aggregate counts, no personal data"))
async def stats_summary(session: SessionDep, day: date | None = None) -> dict[str, Any]:
    """Counts of case events (all time, or one day in Asia/Shanghai)."""
    return await service.summary(session, day)


@router.get(
    "/overview",
    summary="Big-screen figures for one day (default today, Asia/Shanghai)",
    openapi_extra=public("aggregate counts, no personal data"),
)
async def stats_overview(session: SessionDep, day: date | None = None) -> dict[str, Any]:
    """Volume by channel/category/street/hour for the day; live counts of cases in handling (在办),
    overdue (超期), warned (预警), awaiting survey, in triage; replies on time today and all time."""
    return await service.overview(session, day)


@router.get(
    "/hotspots",
    summary="Grids above their own baseline (热点网格)",
    openapi_extra=public("aggregate counts, no personal data"),
)
async def stats_hotspots(
    session: SessionDep,
    day: date | None = None,
    baseline_days: Annotated[int, Query(ge=1, le=90)] = 7,
    min_count: Annotated[int, Query(ge=1, le=1000)] = 2,
    factor: Annotated[float, Query(ge=1.0, le=100.0)] = 2.0,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> dict[str, Any]:
    """Grids with cases on ``day``; ``hot`` when the count is at least ``min_count`` and at least ``factor``
    times the grid's mean daily count over the ``baseline_days`` before. Hot grids first."""
    return await service.hotspots(
        session, day, baseline_days=baseline_days, min_count=min_count, factor=factor, limit=limit
    )


@router.get(
    "/departments",
    summary="Per lead department: in handling, overdue, on-time rate",
    openapi_extra=public("aggregate counts, no personal data"),
)
async def stats_departments(session: SessionDep, limit: Annotated[int, Query(ge=1, le=100)] = 15) -> dict[str, Any]:
    return await service.departments(session, limit=limit)


@router.get(
    "/events",
    summary="Latest case events, anonymised (ticker)",
    openapi_extra=public("anonymised ticker: masked tracking codes, no text"),
)
async def stats_events(session: SessionDep, limit: Annotated[int, Query(ge=1, le=100)] = 20) -> dict[str, Any]:
    """Action, category, street, grid and a masked tracking code: no text, no names, no phone numbers."""
    return await service.latest_events(session, limit)


@open_data_router.get(
    "/cases.csv",
    summary="Cases per day, grid and category (CSV, UTF-8 with BOM)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
    openapi_extra=public("open data: aggregates per day, grid and category"),
)
async def open_data_cases(
    session: SessionDep,
    start: date | None = None,
    end: date | None = None,
) -> Response:
    """Aggregated to grid/day/category: ``day,street_code,street_name,grid_code,grid_name,category,
    category_name,cases``. Default: the last 30 days. At most 366 days per request."""
    end = end or service.today()
    for name, value in (("start", start), ("end", end)):
        if value is not None and not 2000 <= value.year <= 2100:
            raise InvalidInput(f"{name} must be between 2000-01-01 and 2100-12-31", field=name)
    start = start or end - timedelta(days=29)
    if start > end:
        raise InvalidInput("start is after end", field="start")
    if (end - start).days > 366:
        raise InvalidInput("at most 366 days per request", field="start")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(service.OPEN_DATA_COLUMNS)
    writer.writerows(await service.open_data_rows(session, start, end))
    return Response(
        "\ufeff" + buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="linkage-cases-{start}-{end}.csv"'},
    )
