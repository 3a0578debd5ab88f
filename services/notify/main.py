"""Notify service: receipts, progress, surveys to citizens; development message sink."""

from __future__ import annotations

from fastapi import FastAPI

from services.notify.consumers import handle_case_events
from services.notify.message.routes import router as message_router
from shared import topics
from shared.app import ConsumerSpec, create_service_app
from shared.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        "notify",
        routers=[message_router],
        consumers=[ConsumerSpec(group="notify", topics=[topics.CASES], handler=handle_case_events)],
        settings=settings,
        title="Linkage notify",
        description="SMS, WeChat and webhook messages to citizens and handlers; development sink at /dev/messages.",
    )
