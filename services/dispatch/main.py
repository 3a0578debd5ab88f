"""Dispatch service: cases, routing, SLA clock, handler API.

:func:`create_app` installs the case transition listeners (:func:`services.dispatch.wiring.install_listeners`)
before anything can run a transition: its consumers, background jobs and routes all use them.
"""

from __future__ import annotations

from fastapi import FastAPI

from services.dispatch.api.dispatcher import router as dispatcher_router
from services.dispatch.api.handler import router as handler_router
from services.dispatch.api.track import router as track_router
from services.dispatch.audit_checkpoints import run_checkpoints
from services.dispatch.case.routes import router as case_router
from services.dispatch.consumers import handle_complaints
from services.dispatch.demo.routes import router as demo_router
from services.dispatch.duplicate.routes import router as duplicate_router
from services.dispatch.handoff.job import run_handoffs
from services.dispatch.handoff.routes import router as handoff_router
from services.dispatch.sla.metrics import sla_metrics
from services.dispatch.sla.readiness import calendar_readiness
from services.dispatch.sla.service import run_scanner
from services.dispatch.survey.service import handle_feedback
from services.dispatch.web.routes import router as web_router
from services.dispatch.wiring import install_listeners
from shared import topics
from shared.app import ConsumerSpec, create_service_app
from shared.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    install_listeners()
    return create_service_app(
        "dispatch",
        routers=[
            case_router,
            handler_router,
            dispatcher_router,
            track_router,
            duplicate_router,
            web_router,
            handoff_router,
            demo_router,
        ],
        consumers=[
            ConsumerSpec(group="dispatch", topics=[topics.COMPLAINTS], handler=handle_complaints),
            ConsumerSpec(group="dispatch-feedback", topics=[topics.FEEDBACK], handler=handle_feedback),
        ],
        readiness_checks=[calendar_readiness],
        background=[run_scanner, run_checkpoints, sla_metrics, run_handoffs],
        settings=settings,
        title="Linkage dispatch",
        description="Cases through the closed loop: routing, SLA clock, escalation, handler API.",
    )
