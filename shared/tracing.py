"""OpenTelemetry traces from an HTTP request through the outbox and Kafka to the consumers, and on to notify.

Spans come from the OpenTelemetry instrumentation packages:

- FastAPI (:func:`instrument_app`): a server span per request, continuing an incoming W3C ``traceparent``; the
  answer carries ``traceparent`` and ``traceresponse`` headers with the server span's context;
- SQLAlchemy (:func:`instrument_engine`): a client span per statement, only while spans are exported (a span per
  statement costs 5–7 % of a service's CPU and nobody would read it otherwise);
- httpx: a client span per outgoing request (SMS/WeChat/webhook adapters, calls to dispatch), ``traceparent`` sent;
- aiokafka: a producer span per send and a ``receive`` span per consumed record.

The trace crosses the transactional outbox in the CloudEvents envelope: ``add_event`` stores the current span's
``traceparent`` with the row, and the relay sends the row inside that trace (:func:`publish_context`), so the
aiokafka producer span is a child of the request and its ``traceparent`` header is the record's only one. A
consumer applies a batch in a span that continues the events' trace (a child when the batch holds one trace,
links to each otherwise: :func:`consume_span`); work done for one event (staging its follow-up events, sending a
message it led to) runs in :func:`continue_trace`. JSON log lines carry ``trace_id`` / ``span_id``.

Spans are exported (OTLP/HTTP protobuf) when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``..._TRACES_ENDPOINT``) is set
and the ``otlp`` extra is installed (``pip install 'linkage[otlp]'``); with the endpoint set but the extra
missing a warning says so at start. ``OTEL_SDK_DISABLED=true`` turns spans off (ids are then not propagated).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.instrumentation.aiokafka import AIOKafkaInstrumentor
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.propagators import ResponsePropagator, set_global_response_propagator
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Link, SpanKind
from opentelemetry.util.types import AttributeValue

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.propagators.textmap import Setter
    from sqlalchemy.ext.asyncio import AsyncEngine

TRACEPARENT = "traceparent"
# probes and scrapes are not traced
EXCLUDED_URLS = "/healthz$,/readyz$,/metrics$"

log = logging.getLogger(__name__)
_configured = False
_exporting = False
_instrumented_engines: set[int] = set()


def configure_tracing(service: str) -> None:
    """Once per process: the tracer provider (with the OTLP exporter when asked for) and the library
    instrumentations (aiokafka, httpx, SQLAlchemy when exporting; FastAPI apps via :func:`instrument_app`)."""
    global _configured, _exporting
    if _configured:
        return
    provider = TracerProvider(resource=Resource.create({"service.name": f"linkage-{service}"}))
    _exporting = _add_otlp_exporter(provider)
    trace.set_tracer_provider(provider)
    cast(Callable[[ResponsePropagator], None], set_global_response_propagator)(TraceparentResponse())
    instrumentors: list[Any] = [AIOKafkaInstrumentor(), HTTPXClientInstrumentor()]
    if _exporting:
        instrumentors.append(SQLAlchemyInstrumentor())
    for instrumentor in instrumentors:
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(tracer_provider=provider)
    _configured = True


def _add_otlp_exporter(provider: TracerProvider) -> bool:
    """Export spans over OTLP when an endpoint is set; whether they are exported."""
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if not endpoint:
        return False
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
    if protocol and protocol != "http/protobuf":
        log.warning("OTEL_EXPORTER_OTLP_PROTOCOL=%s is not supported; exporting with http/protobuf", protocol)
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        log.warning(
            "OTEL_EXPORTER_OTLP_ENDPOINT=%s is set but the OTLP exporter is not installed (%s): spans are NOT "
            "exported. Install it with: pip install 'linkage[otlp]'",
            endpoint,
            exc,
        )
        return False
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    log.info("exporting spans over OTLP/HTTP to %s", endpoint)
    return True


def instrument_app(app: FastAPI) -> None:
    """A server span per request (outermost, so error answers are traced too)."""
    FastAPIInstrumentor.instrument_app(app, excluded_urls=EXCLUDED_URLS, exclude_spans=["receive", "send"])


def instrument_engine(engine: AsyncEngine) -> None:
    """A span per SQL statement on ``engine`` (the instrumentation patches only engines it creates itself)."""
    if id(engine.sync_engine) in _instrumented_engines or not _configured or not _exporting:
        return
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import get_meter

    usage = get_meter("linkage").create_up_down_counter("db.client.connections.usage", unit="connections")
    cast(Any, EngineTracer)(tracer(), engine.sync_engine, usage)  # the instrumentation is untyped
    _instrumented_engines.add(id(engine.sync_engine))


def tracer() -> trace.Tracer:
    return trace.get_tracer("linkage")


def current_traceparent() -> str | None:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get(TRACEPARENT)


def _context_of(traceparent: str | None) -> otel_context.Context | None:
    """The context a ``traceparent`` names, or None when it is absent or not a valid span context."""
    if not traceparent:
        return None
    ctx = propagate.extract({TRACEPARENT: traceparent})
    return ctx if trace.get_current_span(ctx).get_span_context().is_valid else None


def _span_context(traceparent: str | None) -> trace.SpanContext | None:
    ctx = _context_of(traceparent)
    return trace.get_current_span(ctx).get_span_context() if ctx is not None else None


@contextlib.contextmanager
def continue_trace(traceparent: str | None, name: str = "handle event") -> Iterator[str | None]:
    """Work done for one incoming event or stored message runs in a span of that trace (a child of
    ``traceparent``; of the current span when there is none). Yields the new span's ``traceparent``."""
    with tracer().start_as_current_span(name, context=_context_of(traceparent), kind=SpanKind.INTERNAL):
        yield current_traceparent()


@contextlib.contextmanager
def consume_span(group: str, traceparents: Sequence[str | None]) -> Iterator[None]:
    """A consumer batch. One trace in the batch: the span continues it; several: a span linked to each."""
    contexts = [sc for sc in (_span_context(tp) for tp in traceparents) if sc is not None]
    attributes: dict[str, AttributeValue] = {
        "messaging.batch.message_count": len(traceparents),
        "messaging.consumer.group.name": group,
    }
    if contexts and len({sc.trace_id for sc in contexts}) == 1:
        parent = _context_of(next(tp for tp in traceparents if _span_context(tp) is not None))
        with tracer().start_as_current_span(
            f"process {group}", context=parent, kind=SpanKind.CONSUMER, attributes=attributes
        ):
            yield
        return
    with tracer().start_as_current_span(
        f"process {group}", kind=SpanKind.CONSUMER, links=[Link(sc) for sc in contexts], attributes=attributes
    ):
        yield


@contextlib.contextmanager
def publish_context(headers: list[tuple[str, bytes]]) -> Iterator[list[tuple[str, bytes]]]:
    """The relay sends a stored record inside the trace it was staged in. With the aiokafka instrumentation
    active, its producer span is then a child of that trace and writes the record's ``traceparent`` itself,
    so the stored header is taken out (it would be there twice); without it the stored header goes as is."""
    stored = [v for k, v in headers if k == TRACEPARENT]
    if not stored or not AIOKafkaInstrumentor().is_instrumented_by_opentelemetry:
        yield headers
        return
    ctx = _context_of(bytes(stored[-1]).decode("latin-1"))
    if ctx is None:
        yield headers
        return
    token = otel_context.attach(ctx)
    try:
        yield [(k, v) for k, v in headers if k != TRACEPARENT]
    finally:
        otel_context.detach(token)


class TraceparentResponse(ResponsePropagator):
    """Answers carry the server span's context: ``traceparent`` (as this service always did) and the W3C
    Trace Context level 2 ``traceresponse``."""

    def inject(
        self,
        carrier: Any,
        context: otel_context.Context | None = None,
        setter: Setter[Any] | None = None,
    ) -> None:
        span_context = trace.get_current_span(context).get_span_context()
        if not span_context.is_valid:
            return
        value = f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}-{span_context.trace_flags:02x}"
        if setter is None:
            assert isinstance(carrier, MutableMapping)
            carrier[TRACEPARENT] = value
            carrier["traceresponse"] = value
            return
        setter.set(carrier, TRACEPARENT, value)
        setter.set(carrier, "traceresponse", value)
        setter.set(carrier, "Access-Control-Expose-Headers", "traceparent, traceresponse")


def add_trace_ids(logger: Any, method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: the active span's ids on every log line."""
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        event_dict.setdefault("trace_id", f"{span_context.trace_id:032x}")
        event_dict.setdefault("span_id", f"{span_context.span_id:016x}")
    return event_dict
