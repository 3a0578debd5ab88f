"""CloudEvents 1.0 in Kafka *binary* mode: attributes in ``ce_*`` headers, the JSON payload as value.

See https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/kafka-protocol-binding.md
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from ulid import ULID

from shared.events.registry import EventPayload, model_for

EVENT_SOURCE_PREFIX = "/linkage/"
SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"

Headers = list[tuple[str, bytes]]


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
    return envelope_headers(envelope), payload.model_dump_json().encode(), envelope


def envelope_headers(envelope: Envelope) -> Headers:
    headers: Headers = [
        ("ce_specversion", envelope.specversion.encode()),
        ("ce_id", envelope.id.encode()),
        ("ce_source", envelope.source.encode()),
        ("ce_type", envelope.type.encode()),
        ("ce_time", envelope.time.isoformat().encode()),
        ("content-type", envelope.datacontenttype.encode()),
    ]
    if envelope.subject:
        headers.append(("ce_subject", envelope.subject.encode()))
    if envelope.traceparent:
        headers.append(("traceparent", envelope.traceparent.encode()))
    return headers


def decode_message(headers: Any, value: bytes | None) -> Envelope:
    """Parse a Kafka record (binary mode) into an Envelope; raise EventDecodeError when malformed."""
    import json

    attrs = {k: (v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)) for k, v in headers or ()}
    missing = [k for k in ("ce_id", "ce_source", "ce_type", "ce_specversion") if k not in attrs]
    if missing:
        raise EventDecodeError(f"missing CloudEvents headers: {', '.join(missing)}")
    if attrs["ce_specversion"] != SPEC_VERSION:
        raise EventDecodeError(f"unsupported specversion {attrs['ce_specversion']!r}")
    try:
        data = json.loads(value or b"null")
    except ValueError as exc:
        raise EventDecodeError(f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise EventDecodeError("body must be a JSON object")
    try:
        return Envelope(
            id=attrs["ce_id"],
            source=attrs["ce_source"],
            type=attrs["ce_type"],
            specversion=attrs["ce_specversion"],
            time=_parse_time(attrs.get("ce_time")),
            subject=attrs.get("ce_subject"),
            datacontenttype=attrs.get("content-type", CONTENT_TYPE),
            traceparent=attrs.get("traceparent"),
            data=data,
        )
    except ValidationError as exc:
        raise EventDecodeError(f"invalid CloudEvents attributes: {exc}") from exc


def _parse_time(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise EventDecodeError(f"ce_time is not an RFC 3339 time: {value!r}") from exc
