"""Analytics service: projections, measures and rankings, reports, 逆向评价, command-center display."""

from __future__ import annotations

from fastapi import FastAPI

from services.analytics.consumers import GROUP, TOPICS, handle_case_events
from services.analytics.display.routes import router as display_router
from services.analytics.hotspots import consumers as patrol_consumers
from services.analytics.hotspots.routes import router as hotspots_router
from services.analytics.hotspots.scheduled import run_hotspot_scanner
from services.analytics.measures.routes import router as measures_router
from services.analytics.reports.routes import router as reports_router
from services.analytics.reviews.routes import router as reviews_router
from services.analytics.stats.routes import open_data_router
from services.analytics.stats.routes import router as stats_router
from shared.app import ConsumerSpec, create_service_app
from shared.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        "analytics",
        routers=[
            stats_router,
            open_data_router,
            measures_router,
            reports_router,
            reviews_router,
            display_router,
            hotspots_router,
        ],
        consumers=[
            ConsumerSpec(group=GROUP, topics=list(TOPICS), handler=handle_case_events),
            ConsumerSpec(
                group=patrol_consumers.GROUP,
                topics=list(patrol_consumers.TOPICS),
                handler=patrol_consumers.handle_patrol_events,
            ),
        ],
        background=[run_hotspot_scanner],
        settings=settings,
        title="Linkage analytics",
        description="Projections of the case stream: command-center figures, the measures departments are judged "
        "by (三率, ranking, 红黑榜), 逆向评价, monthly reports and exports, open data.",
    )
