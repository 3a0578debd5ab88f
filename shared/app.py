"""Service runtime (engine, producer, outbox relay, consumers) and the FastAPI app factory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import make_asgi_app
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.consumer import BatchHandler, EventConsumer
from shared.db import make_engine, make_sessionmaker
from shared.errors import DomainError
from shared.kafka import ensure_topics, make_producer
from shared.logging import configure_logging, get_logger
from shared.outbox import OutboxRelay
from shared.settings import Settings, get_settings
from shared.tracing import TracingMiddleware, configure_tracing

log = get_logger(__name__)

ReadinessCheck = Callable[["ServiceRuntime"], Awaitable[dict[str, Any]]]


@dataclass
class ConsumerSpec:
    group: str
    topics: Sequence[str]
    handler: BatchHandler


@dataclass
class ServiceRuntime:
    """Everything one service process owns; stored on ``app.state.runtime``."""

    name: str
    settings: Settings
    consumer_specs: Sequence[ConsumerSpec] = ()
    readiness_checks: Sequence[ReadinessCheck] = ()
    background: Sequence[Callable[[ServiceRuntime], Awaitable[None]]] = ()
    engine: AsyncEngine = field(init=False)
    sessionmaker: async_sessionmaker[AsyncSession] = field(init=False)
    relay: OutboxRelay = field(init=False)
    consumers: list[EventConsumer] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    background_tasks: list[asyncio.Task[None]] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)

    async def start(self) -> None:
        self.engine = make_engine(self.settings, self.name)
        self.sessionmaker = make_sessionmaker(self.engine)
        self.producer = make_producer(self.settings, client_id=f"linkage-{self.name}")
        await ensure_topics(self.settings)
        await self.producer.start()
        self.relay = OutboxRelay(self.settings, self.engine, self.producer, self.name)
        self._spawn(self.relay.run(), "outbox-relay")
        for spec in self.consumer_specs:
            consumer = EventConsumer(
                self.settings,
                group=spec.group,
                topics=spec.topics,
                handler=spec.handler,
                sessionmaker=self.sessionmaker,
                producer=self.producer,
            )
            self.consumers.append(consumer)
            self._spawn(consumer.run(), f"consumer-{spec.group}")
        graceful = len(self.tasks)
        for job in self.background:
            self._spawn(job(self), getattr(job, "__name__", "job"))
        self.background_tasks = self.tasks[graceful:]

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        async def guarded() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background task crashed", task=name)
                raise

        self.tasks.append(asyncio.create_task(guarded(), name=name))

    async def stop(self) -> None:
        # background jobs work in short transactions: cancelling them rolls back at most one step
        for task in self.background_tasks:
            task.cancel()
        for consumer in self.consumers:
            consumer.stop()
        self.relay.stop()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.gather(*self.tasks, return_exceptions=True), timeout=10)
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.producer.stop()
        await self.engine.dispose()

    async def readiness(self) -> dict[str, Any]:
        details: dict[str, Any] = {}
        ok = True
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            details["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            ok = False
            details["database"] = f"error: {exc!r}"
        dead = [t.get_name() for t in self.tasks if t.done()]
        details["tasks"] = "ok" if not dead else f"stopped: {', '.join(dead)}"
        ok = ok and not dead
        for check in self.readiness_checks:
            extra = await check(self)
            ok = ok and extra.pop("ok", True)
            details.update(extra)
        return {"ok": ok, "service": self.name, **details}


def get_runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_runtime(request).sessionmaker() as session:
        yield session


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]


class BodySizeLimit:
    """Refuse bodies over ``max_bytes`` before any parsing (413 with a JSON body)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _BodyTooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse(
            {"error": "payload_too_large", "message": f"request body exceeds {self.max_bytes} bytes"},
            status_code=413,
        )
        await response(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


def validation_error_body(exc: RequestValidationError | ValidationError) -> dict[str, Any]:
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        problems.append({"field": ".".join(loc) or "body", "message": err.get("msg", ""), "type": err.get("type")})
    fields = ", ".join(p["field"] for p in problems)
    return {"error": "validation_error", "message": f"invalid fields: {fields}", "fields": problems}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(validation_error_body(exc), status_code=422)

    @app.exception_handler(ValidationError)
    async def on_model_error(request: Request, exc: ValidationError) -> JSONResponse:
        # a model built inside a route from request data (not the request body itself)
        return JSONResponse(validation_error_body(exc), status_code=422)

    @app.exception_handler(DBAPIError)
    async def on_database_error(request: Request, exc: DBAPIError) -> JSONResponse:
        """Never a bare 500 from the database: bad values 422, constraint clashes 409, outages 503."""
        sqlstate = str(getattr(exc.orig, "sqlstate", None) or "")
        if isinstance(exc, DataError) or sqlstate.startswith("22"):  # class 22: data exception
            body, status = {"error": "invalid_input", "message": "a value cannot be stored or compared (invalid "
                            "characters, e.g. NUL, or out of range)"}, 422
        elif isinstance(exc, IntegrityError) or sqlstate.startswith("23"):
            body, status = {"error": "conflict", "message": "the request conflicts with stored data"}, 409
        else:
            log.error("database error", path=request.url.path, error=repr(exc)[:500])
            body, status = {"error": "database_unavailable", "message": "the database is unavailable; retry"}, 503
        return JSONResponse(body, status_code=status)

    @app.exception_handler(OverflowError)
    async def on_overflow(request: Request, exc: OverflowError) -> JSONResponse:
        # e.g. date arithmetic on 0001-01-01 or 9999-12-31 coming from a query parameter
        return JSONResponse({"error": "invalid_input", "message": f"value out of range: {exc}"}, status_code=422)

    @app.exception_handler(DomainError)
    async def on_domain_error(request: Request, exc: DomainError) -> JSONResponse:
        retry_after = getattr(exc, "retry_after_s", None)
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return JSONResponse(exc.to_body(), status_code=exc.status_code, headers=headers)


def create_service_app(
    name: str,
    *,
    routers: Sequence[APIRouter] = (),
    consumers: Sequence[ConsumerSpec] = (),
    readiness_checks: Sequence[ReadinessCheck] = (),
    background: Sequence[Callable[[ServiceRuntime], Awaitable[None]]] = (),
    settings: Settings | None = None,
    title: str | None = None,
    description: str = "",
) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level, json=settings.log_json, service=name)
        configure_tracing(name)
        runtime = ServiceRuntime(
            name=name,
            settings=settings,
            consumer_specs=consumers,
            readiness_checks=readiness_checks,
            background=background,
        )
        app.state.runtime = runtime
        await runtime.start()
        log.info("service started", service=name)
        try:
            yield
        finally:
            await runtime.stop()
            log.info("service stopped", service=name)

    app = FastAPI(title=title or f"Linkage {name}", description=description, version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": name}

    @app.get("/readyz", tags=["ops"])
    async def readyz(runtime: RuntimeDep) -> JSONResponse:
        report = await runtime.readiness()
        return JSONResponse(report, status_code=200 if report["ok"] else 503)

    app.mount("/metrics", make_asgi_app())
    for router in routers:
        app.include_router(router)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(TracingMiddleware)
    return app
