"""``/api/v1/hotspots``: 未诉先办 alerts (public aggregates) and a scan on demand (dispatcher or admin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.analytics.access import StaffDep
from services.analytics.hotspots import service
from services.analytics.hotspots.config import hotspot_settings
from shared.access import public
from shared.app import RuntimeDep, SessionDep

router = APIRouter(prefix="/api/v1/hotspots", tags=["hot spots"])


def _rule() -> dict[str, Any]:
    cfg = hotspot_settings()
    return cfg.model_dump(include={"recent_days", "baseline_days", "min_count", "factor"})


@router.get(
    "",
    summary="Hot spots (grid × category above its own baseline) and their patrol tasks",
    openapi_extra=public("aggregate counts per grid and category, no personal data"),
)
async def list_hotspots(session: SessionDep) -> dict[str, Any]:
    """Alerts of the last ``recent_days`` days, newest first, each with its patrol task's state; patrol task
    counts of today (Asia/Shanghai); the rule in force (``LINKAGE_HOTSPOT_*``)."""
    return {
        "rule": _rule(),
        "items": await service.active_alerts(session),
        "patrol": await service.patrol_counts(session),
    }


@router.post("/scan", summary="Look for hot spots now (the background scanner does it every minute)")
async def scan_now(session: SessionDep, runtime: RuntimeDep, who: StaffDep) -> dict[str, Any]:
    """Raises the new hot spots (each announced once; intake opens their patrol tasks) and lists them."""
    cfg = hotspot_settings()
    raised = await service.scan(session, cfg=cfg)
    await session.commit()
    if raised:
        runtime.relay.wake()
    return {"rule": _rule(), "raised": [service.alert_out(a, None, cfg) for a in raised]}
