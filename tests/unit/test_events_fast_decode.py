"""The fast decode path of ``decode_message`` against the CloudEvents SDK path it short-cuts.

For every record (all event types the project encodes, and malformed ones) both give the same Envelope (fields,
types, tzinfo, which fields are set), the same payload, or the same exception (type and message).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from dateutil import tz
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.events import Envelope, EventPayload, encode_event
from shared.events.audit import AuditCheckpointV1
from shared.events.cases import CASE_ACTIONS, case_event
from shared.events.complaints import (
    Attachment,
    CategorySuggestion,
    ComplaintReceivedV1,
    ComplaintSupplementedV1,
    EmergencyFlag,
    GeoPoint,
    PlaceRef,
    Reporter,
)
from shared.events.envelope import _FAST_TIME, EventDecodeError, _decode_fast, _decode_with_sdk, decode_message
from shared.events.feedback import SurveyAnsweredV1
from shared.events.notify import MessageDeliveredV1
from shared.events.patrol import HotspotDetectedV1, PatrolTaskDoneV1, PatrolTaskOpenedV1
from shared.events.registry import _REGISTRY, model_for

NOW = datetime(2026, 11, 24, 8, 0, 0, 123456, tzinfo=UTC)
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
PLACE = PlaceRef(street_code="310101001", street_name="南京东路街道", grid_code="g-17", grid_name="第十七网格")


def samples() -> list[EventPayload]:
    """One payload of every registered event type (the case actions with everything filled in)."""
    out: list[EventPayload] = [
        ComplaintReceivedV1(
            complaint_id="01J0000000000000000000000A",
            tracking_code="261124ABCDEF",
            channel="wechat",
            channel_key="msg-1",
            kind="求助",
            text='路灯不亮 \u2028 \\ " \x00',
            address="贵州路 1 号",
            address_status="resolved",
            location=GeoPoint(lon=121.48, lat=31.23, source="gps"),
            place=PLACE,
            reporter=Reporter(name="张三", phone="13800000000", anonymous=True),
            attachments=[Attachment(url="https://x/p.jpg", content_type="image/jpeg", size=12345)],
            suggestions=[CategorySuggestion(category="市容环境", matter_code="0301", confidence=0.91, auto_route=True)],
            emergency=EmergencyFlag(service="119", reason="烟"),
            received_at=NOW,
        ),
        ComplaintSupplementedV1(
            complaint_id="c", tracking_code="t", text="补充", location=GeoPoint(lon=0, lat=0), supplemented_at=NOW
        ),
        AuditCheckpointV1(case_id="c", seq=2**62, head_mac="ab" * 32, at=NOW, sig_key="k1", sig="cd" * 32),
        SurveyAnsweredV1(case_id="c", tracking_code="t", result="满意", solved=True, answered_at=NOW),
        MessageDeliveredV1(message_id="m", channel="sms", template="t", status="sent", at=NOW),
        HotspotDetectedV1(
            hotspot_id="h",
            grid_code="g",
            category="c",
            window_start=date(2026, 11, 20),
            window_end=date(2026, 11, 24),
            recent_count=9,
            baseline_daily=1.25,
            baseline_days=28,
            detected_at=NOW,
        ),
        PatrolTaskOpenedV1(task_id="p", hotspot_id="h", grid_code="g", category="c", opened_at=NOW, due_at=NOW),
        PatrolTaskDoneV1(
            task_id="p", hotspot_id="h", grid_code="g", category="c", result="handled", worker_id="w", done_at=NOW
        ),
    ]
    for i, action in enumerate(CASE_ACTIONS):
        out.append(
            case_event(
                action,
                case_id=f"01JDMV4Q5X9R2T7Y3H8K6N{i:04d}",
                tracking_code="261124ABCDEF",
                complaint_id="01J0000000000000000000000A",
                from_state="triaged",
                to_state="dispatched",
                actor="u-7",
                at=NOW + timedelta(seconds=i),
                channel="hotline",
                kind="投诉",
                category="市容环境",
                lead="org-3",
                co_handlers=["org-12"],
                place=PLACE,
                deadline=NOW + timedelta(days=3),
                received_at=NOW,
                reporter=Reporter(name="李四"),
                details={"n": i, "f": 0.1, "big": 10**30, "nested": [{"a": None}, True, "文字"]},
            )
        )
    return out


def encoded() -> list[tuple[list[tuple[str, bytes]], bytes]]:
    records = []
    for i, payload in enumerate(samples()):
        headers, value, _ = encode_event(
            payload,
            source="dispatch",
            subject=None if i % 3 == 0 else f"s-{i}",
            time=None if i % 2 else NOW + timedelta(microseconds=i),
            traceparent=TRACEPARENT if i % 2 else None,
        )
        records.append((headers, value))
    return records


RECORDS = encoded()
HEADERS, VALUE = RECORDS[0]


def outcome(decode: Callable[[Any, Any], Envelope], headers: Any, value: Any) -> tuple[Any, ...]:
    """Everything observable of one decode (then ``.payload()``), or the exception's type and message."""
    try:
        envelope = decode(headers, value)
    except BaseException as exc:  # noqa: BLE001 - the very point: the same exception, whatever it is
        return ("decode raised", type(exc), str(exc))
    if not any(str(name).lower() == "ce_time" for name, *_ in headers):  # the SDK made the time up: now
        assert abs(datetime.now(UTC) - envelope.time) < timedelta(minutes=1)
        envelope = envelope.model_copy(update={"time": NOW})
    state = (
        type(envelope),
        repr(envelope),  # every field, with the types inside data (1 vs 1.0) and the time's tzinfo
        repr(envelope.time.tzinfo),
        envelope.time.tzinfo is tz.UTC,
        envelope.model_fields_set,
        envelope.__pydantic_extra__,
        envelope.__pydantic_private__,
        dumped(envelope),
    )
    try:
        payload = envelope.payload()
    except BaseException as exc:  # noqa: BLE001
        return ("payload raised", state, type(exc), str(exc))
    return ("ok", state, type(payload), repr(payload), dumped(payload))


def dumped(model: Any) -> str:
    try:
        return str(model.model_dump_json())
    except Exception as exc:  # noqa: BLE001 - a lone surrogate or deep nesting: the same error will do
        return f"{type(exc).__name__}: {exc}"


def sdk_reference(headers: Any, value: Any) -> Envelope:
    """The SDK decoder as ``decode_message`` wraps it: a body nested too deeply is poison, not a crash."""
    try:
        return _decode_with_sdk(headers, value)
    except RecursionError as exc:
        raise EventDecodeError("body is nested too deeply") from exc


def assert_same(headers: Any, value: Any) -> tuple[Any, ...]:
    slow = outcome(sdk_reference, headers, value)
    assert outcome(decode_message, headers, value) == slow
    return slow


def replaced(name: str, new: bytes | None, headers: list[tuple[str, bytes]] = HEADERS) -> list[tuple[str, bytes]]:
    """``headers`` with ``name`` given ``new`` (None: dropped)."""
    if new is None:
        return [(k, v) for k, v in headers if k != name]
    return [(k, new if k == name else v) for k, v in headers]


def test_the_corpus_covers_every_registered_type() -> None:
    model_for("")  # loads the built-in events
    types = {dict(headers)["ce_type"].decode() for headers, _ in RECORDS}
    assert types == set(_REGISTRY)


@pytest.mark.parametrize(("headers", "value"), RECORDS, ids=[dict(h)["ce_type"].decode() for h, _ in RECORDS])
def test_every_event_type_takes_the_fast_path_with_the_sdks_result(headers: Any, value: bytes) -> None:
    assert _decode_fast(headers, value) is not None  # otherwise the comparison below proves nothing
    result = assert_same(headers, value)
    assert result[0] == "ok"
    # and as aiokafka hands them over (a tuple of tuples), and with headers other producers add
    assert_same(tuple(headers), value)
    assert _decode_fast([*headers, ("tracestate", b"k=v"), ("X-Other", "文".encode())], value) is not None
    assert_same([*headers, ("tracestate", b"k=v"), ("X-Other", "文".encode())], value)


def test_the_fast_envelope_is_the_one_model_construct_builds() -> None:
    fast = _decode_fast(HEADERS, VALUE)
    assert fast is not None
    built = Envelope.model_construct(**dict(fast))
    for slot in ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__"):
        assert getattr(fast, slot) == getattr(built, slot), slot
    assert fast == _decode_with_sdk(HEADERS, VALUE) == Envelope.model_validate(dict(fast))
    with pytest.raises(Exception, match="frozen"):
        fast.id = "other"


BAD_TIMES = [
    b"yesterday",
    b"2026-11-24T08:00:00",  # naive
    b"2026-11-24",
    b"2026-11-24T08:00:00+08:60",  # fromisoformat carries the minutes over, isoparse refuses
    b"2026-11-24T24:00:00Z",
    b"2026-11-24T08:00:60Z",
    b"2026-02-30T08:00:00Z",
    b"2026-11-24T08:00:00,5Z",
    b"2026-11-24T08:00:00.1234567Z",
    b"2026-11-24T08:00:00z",
    b"2026-11-24 08:00:00Z",
    b"20261124T080000Z",
    b"2026-11-24T08:00:00+0800",
    b"2026-11-24T08:00:00+08:00",
    b"2026-11-24T08:00:00-00:00",
    b"2026-11-24T08:00:00+00:00",
    b"2026-11-24T08:00:00.5Z",
    b"\xd9\xa2026-11-24T08:00:00Z",
    b"",
]
BAD_BODIES = [
    b"",
    b"{no",
    b"[1]",
    b"null",
    b'"text"',
    b"1",
    b"\xef\xbb\xbf{}",  # a BOM
    b'{"a": "\xff"}',  # not UTF-8
    b'{"a": NaN, "b": Infinity, "c": -Infinity}',
    b'{"a": 1e400, "b": 123456789012345678901234567890, "c": -9223372036854775809}',
    b'{"a": "\\ud800"}',  # a lone surrogate
    b'{"a": 1, "a": 2}',
    b'{"a": 1,}',
    b'{"a": 1} x',
    b' \n{"a": 1}\r\n\t',
    b"{}",
    b"[" * 100_000 + b"]" * 100_000,  # deeper than json.loads' recursion limit
    b'{"a":' * 300 + b"1" + b"}" * 300,  # deeper than pydantic-core's, not json's
]


def malformed() -> list[tuple[str, Any, Any]]:
    cases: list[tuple[str, Any, Any]] = []
    for name, _ in HEADERS:
        cases.append((f"without {name}", replaced(name, None), VALUE))
        cases.append((f"empty {name}", replaced(name, b""), VALUE))
        cases.append((f"non-UTF-8 {name}", replaced(name, b"\xff\xfe"), VALUE))
        cases.append((f"{name} twice", [*HEADERS, (name, dict(HEADERS)[name])], VALUE))
        cases.append((f"{name.upper()} too", [*HEADERS, (name.upper(), dict(HEADERS)[name])], VALUE))
    cases += [(f"time {t!r}", replaced("ce_time", t), VALUE) for t in BAD_TIMES]
    cases += [(f"body {b[:40]!r}", HEADERS, b) for b in BAD_BODIES]
    cases += [
        ("ce_id twice, the last empty", [*HEADERS, ("ce_id", b"")], VALUE),
        ("specversion 0.3", replaced("ce_specversion", b"0.3"), VALUE),
        ("specversion 1.00", replaced("ce_specversion", b"1.00"), VALUE),
        ("text/plain", replaced("content-type", b"text/plain"), VALUE),
        ("charset", replaced("content-type", b"application/json; charset=utf-8"), VALUE),
        ("cloudevents+json", replaced("content-type", b"application/cloudevents+json"), VALUE),
        ("json with a newline", replaced("content-type", b"application/json\n"), VALUE),
        ("Content-Type", [(k.title() if k == "content-type" else k, v) for k, v in HEADERS], VALUE),
        ("an extension", [*HEADERS, ("ce_partitionkey", b"k")], VALUE),
        ("a bad extension name", [*HEADERS, ("ce_foo_bar", b"x")], VALUE),
        ("ce_data", [*HEADERS, ("ce_data", b"x")], VALUE),
        ("empty dataschema", [*HEADERS, ("ce_dataschema", b"")], VALUE),
        ("other header not UTF-8", [*HEADERS, ("x-other", b"\xff")], VALUE),
        ("traceparent not UTF-8", [*HEADERS, ("traceparent", b"\xff00")], VALUE),
        ("Traceparent", [*HEADERS, ("Traceparent", b"x")], VALUE),
        ("unknown type", replaced("ce_type", b"cn.linkage.nope.v9"), VALUE),
        ("wrong schema", HEADERS, b'{"complaint_id": 5}'),
        ("a required field missing", HEADERS, json.dumps({**json.loads(VALUE), "text": None}).encode()),
        ("an added field", HEADERS, json.dumps({**json.loads(VALUE), "later": [1, 2.0]}).encode()),
        ("huge", HEADERS, json.dumps({**json.loads(VALUE), "text": "路" * 1_000_000}).encode()),
        ("no headers", [], VALUE),
        ("headers None", None, VALUE),
        ("value None", HEADERS, None),
        ("value bytearray", HEADERS, bytearray(VALUE)),
        ("value memoryview", HEADERS, memoryview(VALUE)),
        ("headers as lists", [[k, v] for k, v in HEADERS], VALUE),
        ("header values as text", [(k, v.decode()) for k, v in HEADERS], VALUE),
        ("header value bytearray", [(k, bytearray(v)) for k, v in HEADERS], VALUE),
        ("header not a pair", [*HEADERS, ("x",)], VALUE),
        ("headers a dict", dict(HEADERS), VALUE),
    ]
    return cases


MALFORMED = malformed()


@pytest.mark.parametrize(("headers", "value"), [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED])
def test_odd_records_get_the_sdks_answer(headers: Any, value: Any) -> None:
    assert_same(headers, value)


def test_poison_stays_a_decode_error() -> None:
    from shared.events import EventDecodeError

    for headers, value in [
        (replaced("ce_time", b"yesterday"), VALUE),
        (replaced("ce_id", b""), VALUE),
        (HEADERS, b"{no"),
        (HEADERS, b'{"a": "\xff"}'),
    ]:
        with pytest.raises(EventDecodeError):
            decode_message(headers, value)
    with pytest.raises(EventDecodeError, match="unknown event type"):
        decode_message(replaced("ce_type", b"cn.linkage.nope.v9"), VALUE).payload()
    with pytest.raises(EventDecodeError, match="invalid"):
        decode_message(HEADERS, b'{"complaint_id": 5}').payload()


@settings(max_examples=200, deadline=None)
@given(st.from_regex(_FAST_TIME, fullmatch=True))
def test_any_time_the_fast_path_accepts_is_read_as_the_sdk_reads_it(text: str) -> None:
    assert_same(replaced("ce_time", text.encode()), VALUE)


@settings(max_examples=200, deadline=None)
@given(st.datetimes(timezones=st.just(UTC) | st.timezones()).filter(lambda t: t.utcoffset() is not None))
def test_any_time_a_producer_writes_decodes_as_the_sdk_decodes_it(at: datetime) -> None:
    headers, value, _ = encode_event(samples()[2], source="audit", time=at)
    assert_same(headers, value)


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(st.characters(codec="utf-8") | st.sampled_from('\ud800\udfff\u2028\x00"\\')),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(details=JSON, ascii=st.booleans())
def test_any_json_body_decodes_as_the_sdk_decodes_it(details: Any, ascii: bool) -> None:
    body = {**json.loads(RECORDS[-1][1]), "details": details}
    value = json.dumps(body, ensure_ascii=ascii, allow_nan=True).encode("utf-8", "surrogatepass")
    assert_same(RECORDS[-1][0], value)


@settings(max_examples=200, deadline=None)
@given(value=st.binary(max_size=64) | st.text(max_size=64).map(lambda s: s.encode("utf-8", "surrogatepass")))
def test_any_bytes_decode_as_the_sdk_decodes_them(value: bytes) -> None:
    assert_same(HEADERS, value)
    assert_same(HEADERS, b'{"complaint_id": ' + value + b"}")


HEADER_NAMES = st.sampled_from(
    ["ce_id", "ce_source", "ce_type", "ce_specversion", "ce_time", "ce_subject", "content-type", "traceparent"]
    + ["CE_Type", "ce_x", "x-other", "Content-Type"]
)
HEADER_VALUES = st.sampled_from(
    [b"", b"\xff", b"1.0", b"/x", b"application/json", b"2026-11-24T08:00:00Z", b"cn.linkage.audit.checkpoint.v1"]
)


@settings(max_examples=300, deadline=None)
@given(extra=st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=4), drop=st.sets(st.integers(0, 7)))
def test_any_mix_of_headers_decodes_as_the_sdk_decodes_it(extra: list[tuple[str, bytes]], drop: set[int]) -> None:
    headers, value = RECORDS[2]
    kept = [pair for i, pair in enumerate(headers) if i not in drop]
    assert_same([*kept, *extra], value)


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 5000 + b"1" + b"}" * 5000])
def test_a_body_nested_too_deeply_is_poison(body: bytes) -> None:
    with pytest.raises(EventDecodeError):
        decode_message(HEADERS, body).payload()
