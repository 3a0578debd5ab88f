"""Intake service: every channel → one normalised complaint stream."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI

from services.intake.blobs.routes import router as blob_router
from services.intake.channels.app.limits import install_path_body_limits
from services.intake.channels.app.routes import router as app_router
from services.intake.channels.grid.routes import router as grid_router
from services.intake.channels.hotline.routes import router as hotline_router
from services.intake.channels.open311.routes import router as open311_router
from services.intake.channels.wechat.media import run_media_fetcher
from services.intake.channels.wechat.routes import router as wechat_router
from services.intake.classify.routes import router as classify_router
from services.intake.complaint import flows
from services.intake.complaint import service as complaint_service
from services.intake.complaint.routes import router as complaint_router
from services.intake.console.routes import router as console_router
from services.intake.operators.routes import router as operators_router
from services.intake.patrol import consumers as patrol_consumers
from services.intake.patrol.routes import router as patrol_router
from shared.app import ConsumerSpec, ServiceRuntime, create_service_app
from shared.duplicates import warm_up as warm_up_duplicates
from shared.group_commit import GroupCommitter
from shared.settings import Settings, get_settings


async def warm_enrichment(runtime: ServiceRuntime) -> None:
    """Load map, gazetteer, catalog and classifier off the event loop, then publish ``extras["enrich"]`` (intake is
    ready); then 并单's word list for the operators' duplicate check, so its first query is fast too without making
    the start slower."""
    await asyncio.to_thread(flows.warm_up)
    runtime.extras["enrich"] = flows.enrich
    await asyncio.to_thread(warm_up_duplicates)
    await asyncio.Event().wait()  # stay alive: a finished background task reads as a dead one in /readyz


async def run_complaint_writer(runtime: ServiceRuntime) -> None:
    """Group commit for the hotline API (see shared/group_commit.py)."""
    writer = GroupCommitter(
        "complaints", runtime.sessionmaker, complaint_service.create_complaints, after_commit=runtime.relay.wake
    )
    runtime.extras["complaint_writer"] = writer
    await writer.run()


async def enrichment_ready(runtime: ServiceRuntime) -> dict[str, Any]:
    ready = "enrich" in runtime.extras
    return {"ok": ready, "enrichment": "ok" if ready else "warming up"}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = create_service_app(
        "intake",
        routers=[
            complaint_router,
            classify_router,
            hotline_router,
            open311_router,
            console_router,
            operators_router,
            wechat_router,
            app_router,
            grid_router,
            patrol_router,
            blob_router,
        ],
        consumers=[
            ConsumerSpec(
                group=patrol_consumers.GROUP,
                topics=list(patrol_consumers.TOPICS),
                handler=patrol_consumers.handle_hotspots,
            )
        ],
        background=[warm_enrichment, run_complaint_writer, run_media_fetcher],
        readiness_checks=[enrichment_ready],
        settings=settings,
        title="Linkage intake",
        description="Hotline, WeChat, app, grid patrol and Open311 channels normalised into complaints.",
    )
    install_path_body_limits(app, settings)  # photo uploads > the service-wide limit; WeChat ≤ 64 KB
    return app
