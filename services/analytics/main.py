"""Analytics service: projections, rates, hot spots, command-center display."""

from __future__ import annotations

from fastapi import FastAPI

from services.analytics.consumers import handle_case_events
from services.analytics.display.routes import router as display_router
from services.analytics.stats.routes import open_data_router
from services.analytics.stats.routes import router as stats_router
from shared import topics
from shared.app import ConsumerSpec, create_service_app
from shared.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        "analytics",
        routers=[stats_router, open_data_router, display_router],
        consumers=[ConsumerSpec(group="analytics", topics=[topics.CASES], handler=handle_case_events)],
        settings=settings,
        title="Linkage analytics",
        description="Projections of the case stream for the command center and open data.",
    )
