"""Intake service: every channel → one normalised complaint stream."""

from __future__ import annotations

from fastapi import FastAPI

from services.intake.complaint.routes import router as complaint_router
from shared.app import create_service_app
from shared.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        "intake",
        routers=[complaint_router],
        settings=settings,
        title="Linkage intake",
        description="Hotline, WeChat, app, grid patrol and Open311 channels normalised into complaints.",
    )
