"""CloudEvents envelope (Kafka binary mode), versioned payloads and outbox staging."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.events import EventDecodeError, decode_message, encode_event, model_for
from shared.events.cases import CASE_ACTIONS, case_event
from shared.events.complaints import ComplaintReceivedV1
from shared.events.envelope import envelope_headers
from shared.outbox import OutboxRow, add_event

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def complaint(**overrides: Any) -> ComplaintReceivedV1:
    values: dict[str, Any] = {
        "complaint_id": "01J0000000000000000000000A",
        "tracking_code": "261124ABCDEF",
        "channel": "hotline",
        "channel_key": "call-1",
        "text": "路灯不亮",
        "received_at": NOW,
    }
    values.update(overrides)
    return ComplaintReceivedV1(**values)


def test_binary_mode_headers_and_round_trip() -> None:
    headers, value, envelope = encode_event(complaint(), source="intake", subject="c1")
    names = dict(headers)
    assert names["ce_specversion"] == b"1.0"
    assert names["ce_type"] == b"cn.linkage.complaint.received.v1"
    assert names["ce_source"] == b"/linkage/intake"
    assert names["ce_subject"] == b"c1"
    assert names["content-type"] == b"application/json"
    assert json.loads(value)["text"] == "路灯不亮"
    decoded = decode_message(headers, value)
    assert decoded.id == envelope.id
    assert decoded.payload() == complaint()


def test_every_case_action_has_its_own_versioned_type() -> None:
    for action in CASE_ACTIONS:
        event = case_event(action, case_id="c", tracking_code="t", to_state="x", at=NOW)
        assert event.event_type == f"cn.linkage.case.{action}.v1"
        assert model_for(event.event_type) is type(event)


def test_unknown_optional_fields_are_ignored_for_compatibility() -> None:
    headers, value, _ = encode_event(complaint(), source="intake")
    body = json.loads(value)
    body["added_in_a_later_minor_version"] = 1
    assert decode_message(headers, json.dumps(body).encode()).payload() == complaint()


@pytest.mark.parametrize(
    ("headers", "value", "message"),
    [
        ([], b"{}", "missing CloudEvents headers"),
        ([("ce_id", b"1"), ("ce_source", b"/x"), ("ce_type", b"t"), ("ce_specversion", b"0.3")], b"{}", "specversion"),
        ([("ce_id", b"1"), ("ce_source", b"/x"), ("ce_type", b"t"), ("ce_specversion", b"1.0")], b"{no", "not JSON"),
        ([("ce_id", b"1"), ("ce_source", b"/x"), ("ce_type", b"t"), ("ce_specversion", b"1.0")], b"[1]", "JSON object"),
        ([("ce_id", b"1"), ("ce_source", b"/x"), ("ce_type", b"t"), ("ce_specversion", b"1.0")], b"", "JSON object"),
        ([("ce_id", b"\xff"), ("ce_source", b"/x"), ("ce_type", b"t"), ("ce_specversion", b"1.0")], b"{}", "invalid"),
        (
            [("ce_id", b""), ("ce_source", b"/x"), ("ce_type", b"t"), ("ce_specversion", b"1.0")],
            b"{}",
            "must not be None or empty",
        ),
        (
            [
                ("ce_id", b"1"),
                ("ce_source", b"/x"),
                ("ce_type", b"t"),
                ("ce_specversion", b"1.0"),
                ("ce_time", b"yesterday"),
            ],
            b"{}",
            "invalid CloudEvents headers",
        ),
        (
            [
                ("ce_id", b"1"),
                ("ce_source", b"/x"),
                ("ce_type", b"t"),
                ("ce_specversion", b"1.0"),
                ("ce_time", b"2026-11-24T08:00:00"),
            ],
            b"{}",
            "timezone",
        ),
    ],
)
def test_malformed_records_are_refused_with_a_reason(headers: Any, value: bytes, message: str) -> None:
    with pytest.raises(EventDecodeError, match=message):
        decode_message(headers, value)


def test_unknown_type_and_invalid_payload_are_decode_errors() -> None:
    headers, value, _ = encode_event(complaint(), source="intake")
    unknown = [(k, b"cn.linkage.nope.v9" if k == "ce_type" else v) for k, v in headers]
    with pytest.raises(EventDecodeError, match="unknown event type"):
        decode_message(unknown, value).payload()
    with pytest.raises(EventDecodeError, match="invalid"):
        decode_message(headers, b'{"complaint_id": 5}').payload()


@given(text=st.text(min_size=1, max_size=300), key=st.text(min_size=1, max_size=40))
def test_any_text_survives_the_envelope(text: str, key: str) -> None:
    headers, value, _ = encode_event(complaint(text=text, channel_key=key), source="intake")
    payload = decode_message(headers, value).payload()
    assert isinstance(payload, ComplaintReceivedV1)
    assert payload.text == text and payload.channel_key == key


class CollectingSession:
    def __init__(self) -> None:
        self.added: list[Any] = []

    def add(self, row: Any) -> None:
        self.added.append(row)


def test_add_event_stages_one_outbox_row_in_the_callers_session() -> None:
    session = CollectingSession()
    envelope = add_event(session, "linkage.intake.complaints.v1", complaint(), key="k1", source="intake")  # type: ignore[arg-type]
    (row,) = session.added
    assert isinstance(row, OutboxRow)
    assert row.event_id == envelope.id and row.key == "k1" and row.topic == "linkage.intake.complaints.v1"
    assert row.sent_at is None
    headers = [(k, v.encode()) for k, v in row.headers]
    assert decode_message(headers, row.payload).payload() == complaint()


TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
# A record exactly as the hand-written encoder of the first releases put it on the wire (and into outbox rows):
# ``ce_time`` with ``+00:00``, ``content-type`` before ``ce_subject``, the payload as pydantic's compact JSON.
RECORD_BEFORE_THE_SDK: list[tuple[str, bytes]] = [
    ("ce_specversion", b"1.0"),
    ("ce_id", b"01JDMV4Q5X9R2T7Y3H8K6N1P0A"),
    ("ce_source", b"/linkage/intake"),
    ("ce_type", b"cn.linkage.complaint.received.v1"),
    ("ce_time", b"2026-11-24T08:00:00.123456+00:00"),
    ("content-type", b"application/json"),
    ("ce_subject", b"01J0000000000000000000000A"),
    ("traceparent", TRACEPARENT.encode()),
]
VALUE_BEFORE_THE_SDK = (
    '{"complaint_id":"01J0000000000000000000000A","tracking_code":"261124ABCDEF","channel":"hotline",'
    '"channel_key":"call-1","text":"路灯不亮","received_at":"2026-11-24T08:00:00Z"}'
).encode()


def test_records_written_before_the_sdk_still_decode() -> None:
    envelope = decode_message(RECORD_BEFORE_THE_SDK, VALUE_BEFORE_THE_SDK)
    assert envelope.id == "01JDMV4Q5X9R2T7Y3H8K6N1P0A"
    assert envelope.source == "/linkage/intake" and envelope.subject == "01J0000000000000000000000A"
    assert envelope.time == datetime(2026, 11, 24, 8, 0, 0, 123456, tzinfo=UTC)
    assert envelope.traceparent == TRACEPARENT
    assert envelope.payload() == complaint()
    # and as the relay reads them back from an outbox row (JSON [[name, text], ...])
    row_headers = json.loads(json.dumps([[k, v.decode()] for k, v in RECORD_BEFORE_THE_SDK]))
    assert decode_message([(k, v.encode()) for k, v in row_headers], VALUE_BEFORE_THE_SDK) == envelope


def test_round_trip_keeps_every_attribute_and_the_header_names() -> None:
    at = datetime(2026, 11, 24, 8, 0, 0, 5, tzinfo=UTC)
    headers, value, envelope = encode_event(
        complaint(),
        source="intake",
        subject="s-1",
        event_id="e-1",
        time=at,
        traceparent=TRACEPARENT,
    )
    assert [k for k, _ in headers] == [
        "ce_specversion",
        "ce_id",
        "ce_source",
        "ce_type",
        "ce_time",
        "content-type",
        "ce_subject",
        "traceparent",
    ]
    assert value == complaint().model_dump_json().encode()  # the payload bytes are the model's own JSON
    decoded = decode_message(headers, value)
    assert decoded == envelope
    assert (decoded.id, decoded.subject, decoded.time, decoded.traceparent) == ("e-1", "s-1", at, TRACEPARENT)
    assert decode_message(envelope_headers(envelope), value) == envelope


def test_the_sdks_older_kafka_api_reads_our_records_too() -> None:
    from cloudevents.v1.kafka import KafkaMessage, from_binary

    headers, value, envelope = encode_event(complaint(), source="intake", subject="s-1", traceparent=TRACEPARENT)
    event = from_binary(KafkaMessage(headers=dict(headers), key=b"k", value=value))
    assert event["id"] == envelope.id and event["type"] == "cn.linkage.complaint.received.v1"
    assert event["subject"] == "s-1" and event.data["text"] == "路灯不亮"
