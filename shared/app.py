"""Service runtime (engine, producer, outbox relay, consumers) and the FastAPI app factory."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

import asyncpg
from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import Counter, Gauge
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.access import public
from shared.consumer import BatchHandler, EventConsumer
from shared.db import make_engine, make_sessionmaker
from shared.errors import DomainError
from shared.faults import Backoff, is_infrastructure_error
from shared.kafka import ClusterIdentity, ensure_topics, make_producer
from shared.logging import configure_logging, get_logger
from shared.metrics import RequestMetrics, metrics_endpoint, store_metrics
from shared.openapi import install_error_documentation
from shared.outbox import OutboxRelay
from shared.settings import Settings, get_settings
from shared.tracing import configure_tracing, instrument_app, instrument_engine

log = get_logger(__name__)

TASK_UP = Gauge("linkage_task_up", "1 while a supervised background task runs", ["service", "task"])
TASK_RESTARTS = Counter("linkage_task_restarts_total", "Restarts of supervised background tasks", ["service", "task"])
READY = Gauge("linkage_ready", "1 when the last /readyz answered ready", ["service"])
RETRY_AFTER_S = 5

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

    supervised: list[SupervisedTask] = field(default_factory=list)
    _stopping: bool = False
    _broker_probe: ClusterIdentity | None = None

    async def start(self) -> None:
        self.engine = make_engine(self.settings, self.name)
        instrument_engine(self.engine)
        self.sessionmaker = make_sessionmaker(self.engine)
        self.producer = make_producer(self.settings, client_id=f"linkage-{self.name}")
        await ensure_topics(self.settings)
        await self.producer.start()
        self.relay = OutboxRelay(self.settings, self.engine, self.producer, self.name)
        self._spawn(self.relay.run, "outbox-relay", health=lambda: self.relay.status)
        for spec in self.consumer_specs:
            consumer = EventConsumer(
                self.settings,
                group=spec.group,
                topics=spec.topics,
                handler=spec.handler,
                sessionmaker=self.sessionmaker,
                producer=self.producer,
                on_outbox=self.relay.wake,
            )
            self.consumers.append(consumer)
            self._spawn(consumer.run, f"consumer-{spec.group}", health=_status_of(consumer))
        graceful = len(self.tasks)
        for job in self.background:
            self._spawn(functools.partial(job, self), getattr(job, "__name__", "job"))
        self.background_tasks = self.tasks[graceful:]

    def _spawn(
        self, factory: Callable[[], Awaitable[None]], name: str, health: Callable[[], str] | None = None
    ) -> None:
        task = SupervisedTask(
            name, factory, health, self.name, self.settings.task_restart_backoff_max_s, stopping=lambda: self._stopping
        )
        self.supervised.append(task)
        self.tasks.append(asyncio.create_task(task.run(), name=name))

    async def stop(self) -> None:
        self._stopping = True
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
        if self._broker_probe is not None:
            await self._broker_probe.close()
        with contextlib.suppress(Exception):
            await self.producer.stop()
        await self.engine.dispose()

    async def _database_status(self) -> str:
        try:
            async with asyncio.timeout(3):
                async with self.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            return f"error: {exc!r}"[:300]
        return "ok"

    async def _broker_status(self) -> str:
        probe = self._broker_probe
        if probe is None:
            probe = self._broker_probe = ClusterIdentity(self.settings)
        try:
            async with asyncio.timeout(3):
                cluster = await probe.cluster_id()
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            if self._broker_probe is probe:  # concurrent /readyz calls share the probe
                self._broker_probe = None
            await probe.close()
            return f"error: {exc!r}"[:300]
        return "ok" if cluster else "error: no cluster id"

    async def readiness(self) -> dict[str, Any]:
        """Ready only when the database, the broker and every supervised task are healthy; says which is not."""
        database, broker = await asyncio.gather(self._database_status(), self._broker_status())
        tasks = {task.name: task.state() for task in self.supervised}
        unhealthy = sorted(name for name, state in tasks.items() if not _task_ok(state))
        ok = database == "ok" and broker == "ok" and not unhealthy
        details: dict[str, Any] = {"database": database, "broker": broker, "tasks": tasks}
        if unhealthy:
            details["unhealthy_tasks"] = unhealthy
        for check in self.readiness_checks:
            try:
                extra = await check(self)
            except Exception as exc:  # noqa: BLE001 - a failing check is a reason, not a crash
                extra = {"ok": False, getattr(check, "__name__", "check"): f"error: {exc!r}"[:300]}
            check_ok = bool(extra.pop("ok", True))
            ok = ok and check_ok
            details.update(extra)
        READY.labels(self.name).set(1 if ok else 0)
        return {"ok": ok, "service": self.name, **details}


def _task_ok(state: str) -> bool:
    return state in ("ok", "starting", "running", "standby")


def _status_of(consumer: EventConsumer) -> Callable[[], str]:
    return lambda: consumer.status


class SupervisedTask:
    """Runs ``factory()`` forever: restarted with capped exponential backoff after any exception (or an
    unexpected return), until the service stops. ``health`` reports the task's own view while it runs."""

    def __init__(
        self,
        name: str,
        factory: Callable[[], Awaitable[None]],
        health: Callable[[], str] | None,
        service: str,
        backoff_cap_s: float,
        *,
        stopping: Callable[[], bool],
    ) -> None:
        self.name = name
        self.factory = factory
        self.health = health
        self.service = service
        self.stopping = stopping
        self.backoff = Backoff(initial=0.5, cap=backoff_cap_s)
        self.restarts = 0
        self.last_error = ""
        self.running = False

    def state(self) -> str:
        if not self.running:
            return f"restarting after: {self.last_error}"[:300]
        return self.health() if self.health is not None else "running"

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.stopping():
            started = loop.time()
            self.running = True
            TASK_UP.labels(self.service, self.name).set(1)
            try:
                await self.factory()
                if self.stopping():
                    return
                self.last_error = "returned unexpectedly"
                log.error("background task returned; restarting", task=self.name)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.last_error = repr(exc)[:300]
                if is_infrastructure_error(exc):
                    log.warning(
                        "background task stopped by an infrastructure fault; restarting",
                        task=self.name,
                        error=self.last_error,
                    )
                else:
                    log.exception("background task crashed; restarting", task=self.name)
            finally:
                self.running = False
                TASK_UP.labels(self.service, self.name).set(0)
            if loop.time() - started > 60:
                self.backoff.reset()
            self.restarts += 1
            TASK_RESTARTS.labels(self.service, self.name).inc()
            await asyncio.sleep(self.backoff.next_delay())


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


_INFRASTRUCTURE_EXCEPTION_TYPES: tuple[type[Exception], ...] = (
    OSError,  # includes ConnectionError and TimeoutError (a database socket gone, a refused connection)
    KafkaError,
    SQLAlchemyError,  # DBAPIError has its own, more specific handler
    asyncpg.exceptions.PostgresError,
    asyncpg.exceptions.InterfaceError,
)


def unavailable_response(request: Request, exc: BaseException) -> JSONResponse:
    log.warning("infrastructure unavailable", path=request.url.path, error=repr(exc)[:300])
    return JSONResponse(
        {"error": "service_unavailable", "message": "数据库或消息队列暂时不可用，请稍后重试"},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


HTTP_ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


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
        if is_infrastructure_error(exc):
            return unavailable_response(request, exc)
        if isinstance(exc, DataError) or sqlstate.startswith("22"):  # class 22: data exception
            message = "输入的值无法保存或比较（含非法字符如 NUL，或超出范围）"
            body, status = {"error": "invalid_input", "message": message}, 422
        elif isinstance(exc, IntegrityError) or sqlstate.startswith("23"):
            body, status = {"error": "conflict", "message": "请求与已保存的数据冲突"}, 409
        else:
            return unavailable_response(request, exc)
        return JSONResponse(body, status_code=status)

    async def on_infrastructure_error(request: Request, exc: Exception) -> JSONResponse:
        """Database or broker away → JSON 503 with Retry-After, answered inside the app (a handler for
        ``Exception`` itself would run in Starlette's outermost middleware, which re-raises and makes the
        server drop the connection after the answer)."""
        if is_infrastructure_error(exc):
            return unavailable_response(request, exc)
        log.exception("unhandled error", path=request.url.path)
        return JSONResponse({"error": "internal_error", "message": "服务内部错误，请稍后再试"}, status_code=500)

    for fault_type in _INFRASTRUCTURE_EXCEPTION_TYPES:
        app.add_exception_handler(fault_type, on_infrastructure_error)

    @app.exception_handler(Exception)
    async def on_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        """The last resort (a bug): still a JSON body, never text/plain."""
        if is_infrastructure_error(exc):
            return unavailable_response(request, exc)
        return JSONResponse({"error": "internal_error", "message": "服务内部错误，请稍后再试"}, status_code=500)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_exception(request: Request, exc: StarletteHTTPException) -> Response:
        """FastAPI's and Starlette's own refusals (a body that cannot be parsed, an unknown path, a method not
        allowed) in the same body as every other error, not ``{"detail": …}``."""
        if exc.status_code < 400 or exc.status_code in (204, 304):
            return Response(status_code=exc.status_code, headers=exc.headers)
        code = HTTP_ERROR_CODES.get(exc.status_code, "http_error")
        return JSONResponse(
            {"error": code, "message": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(OverflowError)
    async def on_overflow(request: Request, exc: OverflowError) -> JSONResponse:
        # e.g. date arithmetic on 0001-01-01 or 9999-12-31 coming from a query parameter
        return JSONResponse({"error": "invalid_input", "message": f"value out of range: {exc}"}, status_code=422)

    @app.exception_handler(DomainError)
    async def on_domain_error(request: Request, exc: DomainError) -> JSONResponse:
        retry_after = getattr(exc, "retry_after_s", None)
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return JSONResponse(exc.to_body(), status_code=exc.status_code, headers=headers)


_REPORT: dict[str, Any] = {
    "content": {"application/json": {"schema": {"type": "object", "required": ["ok", "service"]}}}
}


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
        settings.refuse_demo_secrets()  # also when started without `linkage serve` (uvicorn, gunicorn)
        configure_tracing(name)
        runtime = ServiceRuntime(
            name=name,
            settings=settings,
            consumer_specs=consumers,
            readiness_checks=readiness_checks,
            background=(*background, store_metrics),
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
    install_error_documentation(app, infrastructure=(get_session,))  # ErrorBody on every route

    @app.get("/healthz", tags=["ops"], openapi_extra=public("liveness probe; no data"))
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": name}

    @app.get(
        "/readyz",
        tags=["ops"],
        openapi_extra=public("readiness probe; component states only"),
        responses={503: {"description": "not ready: the report says which component is not", **_REPORT}},
    )
    async def readyz(runtime: RuntimeDep) -> JSONResponse:
        report = await runtime.readiness()
        return JSONResponse(report, status_code=200 if report["ok"] else 503)

    app.add_api_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)  # no redirect
    for router in routers:
        app.include_router(router)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    instrument_app(app)  # a server span per request, around every middleware
    app.add_middleware(RequestMetrics, service=name)  # outermost: times every answer, 413 included
    return app
