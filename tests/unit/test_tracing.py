"""Tracing helpers: the OTLP exporter really exports (or says loudly why not), the relay sends a stored record
in its trace, a consumer batch continues its events' trace."""

from __future__ import annotations

import logging
import secrets
import sys
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.instrumentation.aiokafka import AIOKafkaInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import shared.tracing as tracing
from tests.otlp import OtlpReceiver

EXPORTER_MODULE = "opentelemetry.exporter.otlp.proto.http.trace_exporter"


@pytest.fixture
def memory(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """Spans of the helpers under test go to memory (the process-wide provider is left alone)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing, "tracer", lambda: provider.get_tracer("test"))
    yield exporter
    provider.shutdown()


def _traceparent() -> tuple[str, str]:
    trace_id = secrets.token_hex(16)
    return trace_id, f"00-{trace_id}-{secrets.token_hex(8)}-01"


def test_spans_are_exported_over_otlp_http_when_the_endpoint_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    receiver = OtlpReceiver().start()
    try:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
        provider = TracerProvider(resource=Resource.create({"service.name": "linkage-test"}))
        tracing._add_otlp_exporter(provider)
        with provider.get_tracer("test").start_as_current_span("exported") as span:
            trace_id = f"{span.get_span_context().trace_id:032x}"
        assert provider.force_flush(10_000)
        (received,) = receiver.trace(trace_id)
        assert (received.service, received.name, received.kind) == ("linkage-test", "exported", "internal")
        provider.shutdown()
    finally:
        receiver.stop()


def test_an_endpoint_without_the_otlp_extra_is_a_loud_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    monkeypatch.setitem(sys.modules, EXPORTER_MODULE, None)  # as if the extra were not installed
    provider = TracerProvider()
    with caplog.at_level(logging.WARNING, logger="shared.tracing"):
        tracing._add_otlp_exporter(provider)
    assert "NOT exported" in caplog.text and "linkage[otlp]" in caplog.text
    assert not provider._active_span_processor._span_processors  # nothing pretends to export


def test_no_endpoint_no_exporter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    provider = TracerProvider()
    tracing._add_otlp_exporter(provider)
    assert not provider._active_span_processor._span_processors


def test_a_batch_of_one_trace_continues_it(memory: InMemorySpanExporter) -> None:
    trace_id, traceparent = _traceparent()
    with tracing.consume_span("g", [traceparent, traceparent]):
        inner = tracing.current_traceparent()
    (span,) = memory.get_finished_spans()
    assert f"{span.context.trace_id:032x}" == trace_id and span.kind == trace.SpanKind.CONSUMER
    assert span.parent is not None and f"{span.parent.span_id:016x}" == traceparent.split("-")[2]
    assert inner is not None and inner.split("-")[1] == trace_id


def test_a_batch_of_several_traces_links_each(memory: InMemorySpanExporter) -> None:
    (a, tp_a), (b, tp_b) = _traceparent(), _traceparent()
    with tracing.consume_span("g", [tp_a, None, tp_b, "garbage"]):
        pass
    (span,) = memory.get_finished_spans()
    assert span.parent is None
    assert {f"{link.context.trace_id:032x}" for link in span.links} == {a, b}


def test_continue_trace_makes_a_child_and_yields_its_traceparent(memory: InMemorySpanExporter) -> None:
    trace_id, traceparent = _traceparent()
    with tracing.continue_trace(traceparent, "deliver sms") as child:
        assert child == tracing.current_traceparent()
    assert child is not None and child.split("-")[1] == trace_id and child != traceparent
    with tracing.continue_trace(None, "deliver sms") as fresh:  # no stored trace: a new one, never none
        assert fresh is not None and fresh.split("-")[1] != trace_id


def test_the_relay_sends_a_stored_record_inside_its_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    trace_id, traceparent = _traceparent()
    headers = [("ce_id", b"1"), ("traceparent", traceparent.encode())]
    monkeypatch.setattr(AIOKafkaInstrumentor, "is_instrumented_by_opentelemetry", True, raising=False)
    with tracing.publish_context(headers) as sent:
        # the producer span the instrumentation starts here is a child of the stored trace, and it writes
        # the record's one traceparent header itself
        assert sent == [("ce_id", b"1")]
        assert tracing.current_traceparent() == traceparent
    assert tracing.current_traceparent() is None
    monkeypatch.setattr(AIOKafkaInstrumentor, "is_instrumented_by_opentelemetry", False, raising=False)
    with tracing.publish_context(headers) as sent:  # not instrumented: the stored header goes as it is
        assert sent == headers
