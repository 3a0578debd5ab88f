"""The fast encode path of ``encode_event`` against the CloudEvents SDK path it short-cuts.

For every event type and every shape of arguments both give the same headers (names, order, bytes), the same value
bytes and the same Envelope (fields, types inside ``data``, the time's tzinfo, which fields are set), or the same
exception; and the records decode to the same thing.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dateutil import tz
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.events import EventPayload, decode_message, encode_event
from shared.events.cases import case_event
from shared.events.complaints import GeoPoint
from shared.events.envelope import _encode_fast, _encode_with_sdk
from shared.events.patrol import HotspotDetectedV1
from tests.unit.test_events_fast_decode import NOW, TRACEPARENT, samples

TIMES: list[datetime | None] = [
    None,
    NOW,
    NOW.replace(microsecond=0),
    NOW.astimezone(ZoneInfo("Asia/Shanghai")),
    NOW.astimezone(timezone(timedelta(hours=-5, minutes=-30))),
    NOW.replace(tzinfo=tz.UTC),
    NOW.replace(tzinfo=tz.tzoffset(None, 28800)),
    NOW.replace(tzinfo=timezone(timedelta(seconds=3725))),
    NOW.replace(tzinfo=None),  # naive: the SDK refuses it
]


def outcome(encode: Any, payload: EventPayload, **kwargs: Any) -> tuple[Any, ...]:
    try:
        headers, value, envelope = encode(payload, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - the very point: the same exception
        return ("raised", type(exc), str(exc))
    return (
        "ok",
        headers,
        [type(v) for _, v in headers],
        value,
        type(value),
        envelope,
        repr(envelope),  # with the types inside data (1 vs 1.0) and the tzinfo
        repr(envelope.time.tzinfo),
        envelope.model_fields_set,
        envelope.__pydantic_extra__,
        envelope.__pydantic_private__,
    )


def assert_same(payload: EventPayload, *, fast: bool = True, **kwargs: Any) -> tuple[Any, ...]:
    kwargs.setdefault("event_id", "01JDMV4Q5X9R2T7Y3H8K6N0000")
    kwargs.setdefault("source", "dispatch")
    if kwargs.get("time") is None:
        kwargs["time"] = NOW  # encode_event would read the clock: pinned so the two can be compared
    slow = outcome(_encode_with_sdk, payload, **kwargs)
    assert outcome(encode_event, payload, **kwargs) == slow
    if fast:
        taken = _encode_fast(
            payload,
            kwargs["source"] if kwargs["source"].startswith("/") else "/linkage/" + kwargs["source"],
            kwargs.get("subject"),
            kwargs["event_id"],
            kwargs["time"],
            kwargs.get("traceparent"),
            payload.event_type,
        )
        assert taken is not None  # otherwise the comparison proves nothing
    if slow[0] == "ok":
        headers, value = slow[1], slow[3]
        fast_headers, fast_value, _ = encode_event(payload, **kwargs)
        assert decoded(fast_headers, fast_value) == decoded(headers, value)
    return slow


def decoded(headers: Any, value: bytes) -> tuple[Any, ...]:
    try:
        envelope = decode_message(headers, value)
    except BaseException as exc:  # noqa: BLE001 - an offset in seconds: the SDK refuses it either way
        return ("raised", type(exc), str(exc))
    return ("ok", envelope, repr(envelope))


SAMPLES = samples()


@pytest.mark.parametrize("payload", SAMPLES, ids=[p.event_type for p in SAMPLES])
@pytest.mark.parametrize("subject", [None, "", "case-1", "文"])
@pytest.mark.parametrize("traceparent", [None, "", TRACEPARENT])
def test_every_event_type_takes_the_fast_path_with_the_sdks_result(
    payload: EventPayload, subject: str | None, traceparent: str | None
) -> None:
    assert assert_same(payload, subject=subject, traceparent=traceparent)[0] == "ok"


@pytest.mark.parametrize("time", TIMES, ids=repr)
@pytest.mark.parametrize("source", ["dispatch", "/already/absolute", ""])
def test_times_and_sources(time: datetime | None, source: str) -> None:
    naive = time is not None and time.tzinfo is None
    result = assert_same(SAMPLES[0], fast=not naive, time=time, source=source, subject="s", traceparent=TRACEPARENT)
    assert result[0] == ("raised" if naive else "ok")


def test_defaults_id_and_time() -> None:
    headers, _, envelope = encode_event(SAMPLES[-1], source="dispatch")
    assert abs(datetime.now(UTC) - envelope.time) < timedelta(minutes=1)
    assert len(envelope.id) == 26
    assert _encode_with_sdk(SAMPLES[-1], source="dispatch", event_id=envelope.id, time=envelope.time)[0] == headers


def test_odd_input_goes_the_sdks_way() -> None:
    class Text(str):
        pass

    payload = SAMPLES[-1]
    assert_same(payload, fast=False, subject=Text("s"))
    assert_same(payload, fast=False, event_id=Text("x"))
    assert_same(payload, fast=False, traceparent="\ud800")  # not UTF-8: the same error
    assert_same(payload, fast=False, subject="\ud800")
    bad = case_event("created", case_id="c", tracking_code="t", to_state="x", at=NOW, details={"k": "\ud800"})
    assert_same(bad, fast=False)
    assert_same(bad, fast=False, traceparent=TRACEPARENT)
    assert_same(payload, fast=False, time=datetime(2026, 1, 1, tzinfo=tz.gettz("Asia/Shanghai")))


@pytest.mark.parametrize(
    "details",
    [
        {"f": math.inf, "n": math.nan, "z": -0.0, "big": 10**40, "e": 1e300, "tiny": 5e-324},
        {"k": {1: "a", None: 2, 1.5: 4}, "b": {False: 3}},
        {"t": (1, 2), "s": {3, 1, 2}, "b": b"ab", "d": NOW, "dt": timedelta(seconds=1.5)},
        {"nested": [{"a": None}, True, "文 \u2028 \x00"], "1": 1},
    ],
)
def test_details_of_every_kind(details: dict[str, Any]) -> None:
    payload = case_event("created", case_id="c", tracking_code="t", to_state="x", at=NOW, details=details)
    assert assert_same(payload, subject="s", traceparent=TRACEPARENT)[0] == "ok"


def test_unbounded_floats_keep_model_dump() -> None:
    for value in (math.inf, -math.inf, math.nan, 1.5):
        payload = HotspotDetectedV1(
            hotspot_id="h",
            grid_code="g",
            category="c",
            window_start=NOW.date(),
            window_end=NOW.date(),
            recent_count=1,
            baseline_daily=value,
            baseline_days=1,
            detected_at=NOW,
        )
        assert assert_same(payload)[0] == "ok"
    with pytest.raises(ValidationError):  # the bounded floats the fast path trusts cannot hold nan
        GeoPoint(lon=math.nan, lat=0)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(
    details=st.dictionaries(st.text(max_size=8), json_values, max_size=5),
    time=st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from([UTC, ZoneInfo("Asia/Shanghai"), tz.UTC, timezone(timedelta(hours=-3, seconds=7))]),
    ),
    subject=st.none() | st.text(max_size=5),
)
def test_hypothesis_details_and_times(details: dict[str, Any], time: datetime, subject: str | None) -> None:
    payload = case_event("created", case_id="c", tracking_code="t", to_state="x", at=NOW, details=details)
    assert_same(payload, fast=False, time=time, subject=subject, traceparent=TRACEPARENT)
