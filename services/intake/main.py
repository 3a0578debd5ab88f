"""Intake service: every channel → one normalised complaint stream."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI

from services.intake.complaint import flows
from services.intake.complaint.routes import router as complaint_router
from shared.app import ServiceRuntime, create_service_app
from shared.settings import Settings


async def warm_enrichment(runtime: ServiceRuntime) -> None:
    """Load map, gazetteer, catalog and classifier off the event loop, then publish ``extras["enrich"]``."""
    await asyncio.to_thread(flows.warm_up)
    runtime.extras["enrich"] = flows.enrich
    await asyncio.Event().wait()  # stay alive: a finished background task reads as a dead one in /readyz


async def enrichment_ready(runtime: ServiceRuntime) -> dict[str, Any]:
    ready = "enrich" in runtime.extras
    return {"ok": ready, "enrichment": "ok" if ready else "warming up"}


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        "intake",
        routers=[complaint_router],
        background=[warm_enrichment],
        readiness_checks=[enrichment_ready],
        settings=settings,
        title="Linkage intake",
        description="Hotline, WeChat, app, grid patrol and Open311 channels normalised into complaints.",
    )
