"""CloudEvents 1.0 in Kafka *binary* mode, encoded and decoded by the official ``cloudevents`` SDK.

Attributes travel in ``ce_*`` headers (``ce_id``, ``ce_source``, ``ce_type``, ``ce_specversion``, ``ce_time``,
``ce_subject``), ``datacontenttype`` in ``content-type``, the JSON payload as the record value
(:func:`cloudevents.core.bindings.kafka.to_binary` / ``from_binary``). The W3C ``traceparent`` rides in its own
header beside them, where Kafka's OpenTelemetry instrumentation looks for it.

See https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/kafka-protocol-binding.md
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from cloudevents.core.bindings.kafka import KafkaMessage, from_binary, to_binary
from cloudevents.core.exceptions import CloudEventValidationError, MissingRequiredAttributeError
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from pydantic import BaseModel, ConfigDict, ValidationError
from ulid import ULID

from shared.events.registry import EventPayload, model_for

EVENT_SOURCE_PREFIX = "/linkage/"
SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
TRACEPARENT = "traceparent"
REQUIRED_HEADERS = ("ce_id", "ce_source", "ce_type", "ce_specversion")

Headers = list[tuple[str, bytes]]

_FORMAT = JSONFormat()


class EventDecodeError(ValueError):
    """A Kafka record that is not a valid Linkage CloudEvent (goes straight to the dead-letter topic)."""


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    source: str
    type: str
    specversion: str = SPEC_VERSION
    time: datetime
    subject: str | None = None
    datacontenttype: str = CONTENT_TYPE
    traceparent: str | None = None
    data: dict[str, Any]

    def payload(self) -> EventPayload:
        model = model_for(self.type)
        if model is None:
            raise EventDecodeError(f"unknown event type {self.type!r}")
        try:
            return model.model_validate(self.data)
        except ValidationError as exc:
            raise EventDecodeError(f"invalid {self.type} payload: {exc}") from exc


def new_event_id() -> str:
    return str(ULID())


def encode_event(
    payload: EventPayload,
    *,
    source: str,
    subject: str | None = None,
    event_id: str | None = None,
    time: datetime | None = None,
    traceparent: str | None = None,
) -> tuple[Headers, bytes, Envelope]:
    """Return (headers, value, envelope) for one event."""
    envelope = Envelope(
        id=event_id or new_event_id(),
        source=source if source.startswith("/") else EVENT_SOURCE_PREFIX + source,
        type=payload.event_type,
        time=time or datetime.now(UTC),
        subject=subject,
        traceparent=traceparent,
        data=payload.model_dump(mode="json"),
    )
    message = to_binary(_cloud_event(envelope, payload.model_dump_json().encode()), _FORMAT, _no_key)
    return _with_trace(message.headers, envelope.traceparent), message.value, envelope


def envelope_headers(envelope: Envelope) -> Headers:
    """The Kafka headers of ``envelope`` (binary mode), ``traceparent`` included when it has one."""
    message = to_binary(_cloud_event(envelope, None), _FORMAT, _no_key)
    return _with_trace(message.headers, envelope.traceparent)


def decode_message(headers: Any, value: bytes | None) -> Envelope:
    """Parse a Kafka record (binary mode) into an Envelope; raise EventDecodeError when malformed."""
    attrs = _header_dict(headers)
    # the SDK would invent an id, a specversion and a time for a record without them: poison must stay poison
    missing = [name for name in REQUIRED_HEADERS if name not in attrs]
    if missing:
        raise EventDecodeError(f"missing CloudEvents headers: {', '.join(missing)}")
    traceparent = attrs.pop(TRACEPARENT, None)
    try:
        event = from_binary(KafkaMessage(headers=attrs, key=None, value=bytes(value or b"")), _FORMAT, CloudEvent)
    except CloudEventValidationError as exc:
        raise EventDecodeError(_validation_message(exc)) from exc
    except ValueError as exc:  # undecodable header bytes, a ce_time that is not RFC 3339
        raise EventDecodeError(f"invalid CloudEvents headers: {exc}") from exc
    data = event.get_data()
    if isinstance(data, str | bytes):  # the SDK hands back text it could not parse as JSON
        raise EventDecodeError("body is not JSON (or not a JSON object)")
    if not isinstance(data, dict):
        raise EventDecodeError("body must be a JSON object")
    try:
        return Envelope(
            id=event.get_id(),
            source=event.get_source(),
            type=event.get_type(),
            specversion=event.get_specversion(),
            time=event.get_time() or datetime.now(UTC),
            subject=event.get_subject(),
            datacontenttype=event.get_datacontenttype() or CONTENT_TYPE,
            traceparent=traceparent.decode("utf-8", "replace") if traceparent else None,
            data=data,
        )
    except ValidationError as exc:
        raise EventDecodeError(f"invalid CloudEvents attributes: {exc}") from exc


def _cloud_event(envelope: Envelope, data: bytes | None) -> CloudEvent:
    attributes: dict[str, Any] = {
        "specversion": envelope.specversion,
        "id": envelope.id,
        "source": envelope.source,
        "type": envelope.type,
        "time": envelope.time,
        "datacontenttype": envelope.datacontenttype,
    }
    if envelope.subject:
        attributes["subject"] = envelope.subject
    return CloudEvent(attributes, data)


def _no_key(_event: Any) -> None:
    return None  # the record key is the outbox row's, not a CloudEvents ``partitionkey``


def _with_trace(headers: dict[str, bytes], traceparent: str | None) -> Headers:
    pairs = list(headers.items())
    if traceparent:
        pairs.append((TRACEPARENT, traceparent.encode()))
    return pairs


def _header_dict(headers: Iterable[tuple[str, Any]] | None) -> dict[str, bytes]:
    return {str(k): (bytes(v) if isinstance(v, bytes | bytearray) else str(v).encode()) for k, v in headers or ()}


def _validation_message(exc: CloudEventValidationError) -> str:
    problems = [f"{name}: {'; '.join(str(e) for e in errors)}" for name, errors in exc.errors.items()]
    if "specversion" in exc.errors:
        return f"unsupported specversion: {'; '.join(problems)}"
    if any(isinstance(e, MissingRequiredAttributeError) for errors in exc.errors.values() for e in errors):
        return f"missing CloudEvents attributes: {'; '.join(problems)}"
    return f"invalid CloudEvents attributes: {'; '.join(problems)}"
