"""Notify service: receipts, progress, surveys to citizens; urge/supervise notices to departments;
survey answers in; development message sink."""

from __future__ import annotations

from fastapi import FastAPI

from services.notify.config import NotifySettings, get_notify_settings
from services.notify.consumers import case_event_handler
from services.notify.delivery.job import run_delivery
from services.notify.message.routes import router as message_router
from services.notify.survey.routes import router as survey_router
from shared import topics
from shared.app import ConsumerSpec, ServiceRuntime, create_service_app
from shared.settings import Settings, get_settings


def create_app(settings: Settings | None = None, notify_settings: NotifySettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    nsettings = notify_settings or get_notify_settings()

    async def delivery(runtime: ServiceRuntime) -> None:
        runtime.extras["notify_settings"] = nsettings
        await run_delivery(runtime)

    delivery.__name__ = "notify-delivery"
    app = create_service_app(
        "notify",
        routers=[message_router, survey_router],
        consumers=[
            ConsumerSpec(
                group="notify",
                topics=[topics.CASES],
                handler=case_event_handler(nsettings, base_url=settings.public_base_url),
            )
        ],
        background=[delivery],
        settings=settings,
        title="Linkage notify",
        description="SMS, WeChat and webhook messages to citizens and handlers (development sink at /dev/messages); "
        "survey answers in with the round's token or a signed SMS gateway callback (/survey/{token}, "
        "/api/v1/surveys/answers).",
    )
    app.state.notify_settings = nsettings  # /dev/messages reads dev_sink_enabled from here
    return app
