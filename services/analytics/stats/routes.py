from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter

from services.analytics.stats import service
from shared.app import SessionDep

router = APIRouter(prefix="/api/v1/stats", tags=["stats"])


@router.get("/summary")
async def stats_summary(session: SessionDep, day: date | None = None) -> dict[str, Any]:
    """Counts of case events (all time, or one day in Asia/Shanghai)."""
    return await service.summary(session, day)
