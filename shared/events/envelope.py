"""CloudEvents 1.0 in Kafka *binary* mode, encoded and decoded by the official ``cloudevents`` SDK.

Attributes travel in ``ce_*`` headers (``ce_id``, ``ce_source``, ``ce_type``, ``ce_specversion``, ``ce_time``,
``ce_subject``), ``datacontenttype`` in ``content-type``, the JSON payload as the record value
(:func:`cloudevents.core.bindings.kafka.to_binary` / ``from_binary``). The W3C ``traceparent`` rides in its own
header beside them, where Kafka's OpenTelemetry instrumentation looks for it.

See https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/kafka-protocol-binding.md

Decoding takes a fast path for the records our producers write (:func:`_decode_fast`: the headers checked by hand,
``ce_time`` by :meth:`datetime.fromisoformat`, the body parsed once by pydantic-core's JSON parser, the Envelope
built without re-validation) and falls back to the SDK for anything else, so odd input gets the SDK's answer.
Measured (20k 898 B ``cn.linkage.case.dispatched.v1`` records, CPU time, best of 5 on a busy 2-core box):
``decode_message(...).payload()`` 67–70 → ~20 µs per record (``decode_message`` alone 55–62 → ~11 µs).

Encoding likewise (:func:`_encode_fast`: the headers written by hand as ``to_binary`` writes them, the value by
pydantic's serializer and ``data`` by ``model_dump(mode="json")``; anything unusual goes to
:func:`_encode_with_sdk`, the reference). Measured (20k encodes of an 824 B ``cn.linkage.case.dispatched.v1``
with subject and traceparent, CPU time, best of 5, quiet 2-core box): 31 µs through the SDK, 15 µs fast (id and
time given; ``encode_event`` with a new ULID and ``now()``: 28 µs).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from cloudevents.core.bindings.kafka import KafkaMessage, from_binary, to_binary
from cloudevents.core.exceptions import CloudEventValidationError, MissingRequiredAttributeError
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from dateutil import tz
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import PydanticSerializationError, from_json
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
        except RecursionError as exc:
            raise EventDecodeError(f"invalid {self.type} payload: nested too deeply") from exc


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
    event_id = event_id or new_event_id()
    source = source if source.startswith("/") else EVENT_SOURCE_PREFIX + source
    event_type = payload.event_type
    time = time or datetime.now(UTC)
    encoded = _encode_fast(payload, source, subject, event_id, time, traceparent, event_type)
    if encoded is not None:
        return encoded
    return _encode_with_sdk(
        payload, source=source, subject=subject, event_id=event_id, time=time, traceparent=traceparent
    )


def _encode_with_sdk(
    payload: EventPayload,
    *,
    source: str,
    subject: str | None = None,
    event_id: str | None = None,
    time: datetime | None = None,
    traceparent: str | None = None,
) -> tuple[Headers, bytes, Envelope]:
    """The reference encoder (the CloudEvents SDK): every event the fast path does not take, and its tests."""
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
    try:
        envelope = _decode_fast(headers, value)
        if envelope is not None:
            return envelope
        return _decode_with_sdk(headers, value)
    except RecursionError as exc:  # a body nested thousands deep is poison, not a reason to stop the consumer
        raise EventDecodeError("body is nested too deeply") from exc


def _decode_with_sdk(headers: Any, value: bytes | None) -> Envelope:
    """The reference decoder (the CloudEvents SDK): every record the fast path does not take, and its tests."""
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


# The headers the fast path understands, by exact name (what ``to_binary`` writes), and the attribute each carries.
_FAST_HEADERS = {
    "ce_id": "id",
    "ce_source": "source",
    "ce_type": "type",
    "ce_specversion": "specversion",
    "ce_time": "time",
    "ce_subject": "subject",
    "content-type": "datacontenttype",
}
# RFC 3339 as our producers write it, narrowed to where ``fromisoformat`` and the SDK's ``isoparse`` agree
# (``isoparse`` refuses an offset's minutes over 59 that ``fromisoformat`` would carry into the hour, takes
# 24:00, ``,`` fractions, naive and basic forms: all of those go the SDK's way).
_FAST_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)
_ENVELOPE_FIELDS = frozenset(Envelope.model_fields)
# Envelope.model_construct without its per-field loop: valid while Envelope has no aliases, private attributes,
# post-init hook or extras (checked here; otherwise model_construct itself). tests/unit pins the equivalence.
_PLAIN_ENVELOPE = (
    not Envelope.__private_attributes__
    and Envelope.__pydantic_post_init__ is None
    and not Envelope.__pydantic_root_model__
    and Envelope.model_config.get("extra") != "allow"
    and all(f.alias is None and f.validation_alias is None for f in Envelope.model_fields.values())
)
_new_object = object.__new__
_set_slot = object.__setattr__


def _decode_fast(headers: Any, value: Any) -> Envelope | None:
    """The Envelope for a binary-mode record exactly as our producers write it, or None: anything else (a missing,
    empty or unknown ``ce_*`` header, another content type, another time format, undecodable bytes, a body that
    is not a JSON object...) goes to the SDK, which then gives the same result or raises the same error."""
    if type(value) is not bytes or not value or type(headers) not in (list, tuple):
        return None
    attrs: dict[str, str] = {}
    traceparent: bytes | None = None
    try:
        for name, raw in headers:
            if type(name) is not str or type(raw) is not bytes:
                return None
            attr = _FAST_HEADERS.get(name)
            if attr is not None:
                attrs[attr] = raw.decode("utf-8")
            elif name == TRACEPARENT:
                traceparent = raw
            else:
                lower = name.lower()
                if lower.startswith("ce_") or lower == "content-type":
                    return None  # another spelling of an attribute, or an extension: the SDK's rules
                raw.decode("utf-8")  # the SDK decodes every header and refuses the record if one is not UTF-8
    except (ValueError, TypeError):  # undecodable bytes, a header that is not a (name, value) pair
        return None
    event_id = attrs.get("id")
    source = attrs.get("source")
    event_type = attrs.get("type")
    time_text = attrs.get("time")
    subject = attrs.get("subject")
    content_type = attrs.get("datacontenttype", CONTENT_TYPE)
    if (
        not event_id
        or not source
        or not event_type
        or attrs.get("specversion") != SPEC_VERSION
        or content_type != CONTENT_TYPE
        or subject == ""
        or time_text is None  # the SDK would invent the time
        or _FAST_TIME.fullmatch(time_text) is None
    ):
        return None
    try:
        time = datetime.fromisoformat(time_text)
        data = from_json(value)  # json.loads' values (big ints, NaN, duplicate keys): the hypothesis test pins it
    except ValueError:
        return None
    if type(data) is not dict:
        return None
    offset = time.utcoffset()
    if offset is None:
        return None
    # with the tzinfo the SDK's isoparse gives: dateutil's UTC singleton, or its (cached) fixed offset; the
    # constructor, as datetime.replace costs four times as much
    zone = tz.UTC if not offset else tz.tzoffset(None, int(offset.total_seconds()))
    time = datetime(time.year, time.month, time.day, time.hour, time.minute, time.second, time.microsecond, zone)
    values: dict[str, Any] = {
        "id": event_id,
        "source": source,
        "type": event_type,
        "specversion": SPEC_VERSION,
        "time": time,
        "subject": subject,
        "datacontenttype": content_type,
        "traceparent": traceparent.decode("utf-8", "replace") if traceparent else None,
        "data": data,
    }
    return _built_envelope(values, _ENVELOPE_FIELDS)


def _built_envelope(values: dict[str, Any], fields_set: frozenset[str]) -> Envelope:
    """``Envelope.model_construct(_fields_set=fields_set, **values)`` without its per-field loop when that is
    equivalent (:data:`_PLAIN_ENVELOPE`): the fast paths' values are checked by hand."""
    if not _PLAIN_ENVELOPE:
        return Envelope.model_construct(_fields_set=set(fields_set), **values)
    envelope: Envelope = _new_object(Envelope)
    _set_slot(envelope, "__dict__", values)
    _set_slot(envelope, "__pydantic_fields_set__", set(fields_set))
    _set_slot(envelope, "__pydantic_extra__", None)
    _set_slot(envelope, "__pydantic_private__", None)
    return envelope


_KNOWN_ZONES = (timezone, ZoneInfo, tz.tzutc, tz.tzoffset)
_MODEL_DUMP = BaseModel.model_dump
_MODEL_DUMP_JSON = BaseModel.model_dump_json
# the fields the SDK path passes to Envelope (so its model_fields_set)
_ENCODED_FIELDS = frozenset({"id", "source", "type", "time", "subject", "traceparent", "data"})


def _encode_fast(
    payload: EventPayload,
    source: str,
    subject: str | None,
    event_id: str,
    time: datetime,
    traceparent: str | None,
    event_type: str,
) -> tuple[Headers, bytes, Envelope] | None:
    """What :func:`_encode_with_sdk` returns, built by hand, or None: anything unusual (a str subclass, a naive time
    or an unknown tzinfo, an overridden dump, a serializer warning, text that is not UTF-8...) goes to the SDK,
    which then gives the same result or raises the same error."""
    cls = type(payload)
    zone = time.tzinfo
    if (
        type(event_id) is not str
        or type(source) is not str
        or type(event_type) is not str
        or not event_type
        or (subject is not None and type(subject) is not str)
        or (traceparent is not None and type(traceparent) is not str)
        or type(time) is not datetime
        or type(zone) not in _KNOWN_ZONES
        or cls.model_dump is not _MODEL_DUMP
        or cls.model_dump_json is not _MODEL_DUMP_JSON
    ):
        return None
    try:
        stamp = time.isoformat()
        if stamp.endswith("+00:00"):
            stamp = stamp[:-6] + "Z"
        headers: Headers = [
            ("ce_specversion", b"1.0"),
            ("ce_id", event_id.encode("utf-8")),
            ("ce_source", source.encode("utf-8")),
            ("ce_type", event_type.encode("utf-8")),
            ("ce_time", stamp.encode("utf-8")),
            ("content-type", b"application/json"),
        ]
        if subject:
            headers.append(("ce_subject", subject.encode("utf-8")))
        if traceparent:
            headers.append((TRACEPARENT, traceparent.encode()))
        value = payload.__pydantic_serializer__.to_json(payload, warnings="error")
        data = payload.model_dump(mode="json")
    except (ValueError, RecursionError, PydanticSerializationError):  # the SDK path raises its own error
        return None
    if type(data) is not dict or time.utcoffset() is None:
        return None
    values: dict[str, Any] = {
        "id": event_id,
        "source": source,
        "type": event_type,
        "specversion": SPEC_VERSION,
        "time": time,
        "subject": subject,
        "datacontenttype": CONTENT_TYPE,
        "traceparent": traceparent,
        "data": data,
    }
    return headers, value, _built_envelope(values, _ENCODED_FIELDS)


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
