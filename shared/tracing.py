"""OpenTelemetry traces from an HTTP request through Kafka to the consumers.

- every HTTP request runs in a server span, continuing an incoming W3C ``traceparent`` header;
- ``add_event`` writes the current span's ``traceparent`` into the CloudEvents envelope (Kafka header);
- a consumer applies a batch in a span linked to every event's trace, and code that stages follow-up
  events for one incoming event wraps that work in :func:`continue_trace` so the trace carries on;
- JSON log lines carry ``trace_id`` / ``span_id`` while a span is active.

Spans are exported only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set and the OTLP exporter package is
installed (``pip install opentelemetry-exporter-otlp-proto-http``); otherwise ids still propagate.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Link, SpanKind
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_configured = False


def configure_tracing(service: str) -> None:
    global _configured
    if _configured:
        return
    provider = TracerProvider(resource=Resource.create({"service.name": f"linkage-{service}"}))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        with contextlib.suppress(ImportError):
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.trace.export import BatchSpanProcessor

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _configured = True


def tracer() -> trace.Tracer:
    return trace.get_tracer("linkage")


def current_traceparent() -> str | None:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def _span_context(traceparent: str | None) -> trace.SpanContext | None:
    if not traceparent:
        return None
    ctx = propagate.extract({"traceparent": traceparent})
    span_context = trace.get_current_span(ctx).get_span_context()
    return span_context if span_context.is_valid else None


@contextlib.contextmanager
def continue_trace(traceparent: str | None, name: str = "handle event") -> Iterator[None]:
    """Work done for one incoming event (e.g. staging its follow-up events) joins that event's trace."""
    if not traceparent:
        yield
        return
    ctx = propagate.extract({"traceparent": traceparent})
    with tracer().start_as_current_span(name, context=ctx, kind=SpanKind.INTERNAL):
        yield


@contextlib.contextmanager
def consume_span(group: str, traceparents: Sequence[str | None]) -> Iterator[None]:
    """A consumer batch: its own span, linked to the trace of every event in it."""
    links = [Link(sc) for sc in (_span_context(tp) for tp in traceparents) if sc is not None]
    with tracer().start_as_current_span(f"consume {group}", kind=SpanKind.CONSUMER, links=links,
                                        attributes={"messaging.batch.message_count": len(traceparents)}):
        yield


def add_trace_ids(logger: Any, method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: the active span's ids on every log line."""
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        event_dict.setdefault("trace_id", f"{span_context.trace_id:032x}")
        event_dict.setdefault("span_id", f"{span_context.span_id:016x}")
    return event_dict


class TracingMiddleware:
    """A server span per HTTP request, continuing the caller's ``traceparent``; echoes ``traceparent``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers") or []}
        ctx = propagate.extract(headers)
        name = f"{scope.get('method', 'HTTP')} {scope.get('path', '')}"
        with tracer().start_as_current_span(name, context=ctx, kind=SpanKind.SERVER) as span:
            traceparent = current_traceparent()

            async def send_with_trace(message: Message) -> None:
                if message["type"] == "http.response.start":
                    span.set_attribute("http.response.status_code", message["status"])
                    if traceparent:
                        message.setdefault("headers", [])
                        message["headers"] = [*message["headers"], (b"traceparent", traceparent.encode())]
                await send(message)

            await self.app(scope, receive, send_with_trace)
