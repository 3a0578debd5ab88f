"""Faults are not poison (real PostgreSQL, real broker): an infrastructure error never dead-letters or skips a
record; poison of every kind is dead-lettered exactly once (a 5 MB one as a reference) and can be re-driven."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import OffsetAndMetadata, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from linkage.dlq import _replay
from shared.consumer import ConsumedEvent, EventConsumer
from shared.db import make_engine, make_sessionmaker
from shared.events import encode_event
from shared.events.feedback import SurveyAnsweredV1
from shared.kafka import ensure_topics, make_producer
from shared.outbox import OutboxRelay
from shared.settings import Settings
from shared.topics import FEEDBACK, dead_letter_topic

SCHEMA = "analytics"


def survey(case_id: str) -> SurveyAnsweredV1:
    return SurveyAnsweredV1(case_id=case_id, tracking_code="T", result="满意", answered_at=datetime.now(UTC))


async def _send(producer: AIOKafkaProducer, topic: str, value: bytes, headers: list[tuple[str, bytes]]) -> None:
    await producer.send_and_wait(topic, value=value, key=b"k", headers=headers)


def _good(case_id: str) -> tuple[bytes, list[tuple[str, bytes]]]:
    headers, value, _ = encode_event(survey(case_id), source="test", subject=case_id)
    return value, headers


async def _wait(predicate: object, timeout_s: float = 40.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        if await predicate():  # type: ignore[operator]
            return
        await asyncio.sleep(0.2)
    raise AssertionError("timed out")


async def _dlq_records(settings: Settings, topic: str, expected: int) -> list[object]:
    reader = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        fetch_max_bytes=16 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
    )
    await reader.start()
    records: list[object] = []
    try:
        deadline = asyncio.get_running_loop().time() + 20
        while asyncio.get_running_loop().time() < deadline:
            batch = await reader.getmany(timeout_ms=500)
            for part in batch.values():
                records.extend(part)
            if len(records) >= expected:
                await asyncio.sleep(1.0)  # anything more would be a duplicate
                for part in (await reader.getmany(timeout_ms=500)).values():
                    records.extend(part)
                break
    finally:
        await reader.stop()
    return records


async def test_poison_of_every_kind_is_dead_lettered_once_and_the_stream_goes_on(settings: Settings) -> None:
    settings = settings.model_copy(
        update={
            "topic_prefix": f"{settings.topic_prefix}p{uuid.uuid4().hex[:6]}.",
            "consumer_retry_backoff_s": 0.01,
        }
    )
    await ensure_topics(settings, [FEEDBACK], partitions=1)
    topic = settings.topic(FEEDBACK)
    engine = make_engine(settings, SCHEMA)
    maker = make_sessionmaker(engine)
    group = f"poison-{uuid.uuid4().hex[:6]}"
    async with maker() as s, s.begin():
        await s.execute(text("CREATE TABLE IF NOT EXISTS test_effects (n serial, grp text, case_id text)"))
    broken = {"case-bad"}

    async def handler(session: AsyncSession, events: Sequence[ConsumedEvent]) -> None:
        for event in events:
            payload = event.payload
            assert isinstance(payload, SurveyAnsweredV1)
            if payload.case_id in broken:
                raise KeyError(f"no such case {payload.case_id}")  # deterministic: the record's fault
            await session.execute(
                text("INSERT INTO test_effects (grp, case_id) VALUES (:g, :c)"), {"g": group, "c": payload.case_id}
            )

    big_producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, max_request_size=8 * 1024 * 1024)
    await big_producer.start()
    value, headers = _good("case-0")
    await _send(big_producer, topic, value, headers)
    await _send(big_producer, topic, b"\x00\xffnot an event", [])  # not CloudEvents at all
    bad_payload_headers = [(k, v) for k, v in headers if k != "ce_id"] + [("ce_id", b"bad-payload-1")]
    await _send(big_producer, topic, b'{"case_id": 42}', bad_payload_headers)  # valid envelope, invalid payload
    unknown = [(k, b"cn.linkage.nothing.v9" if k == "ce_type" else v) for k, v in headers if k != "ce_id"]
    await _send(big_producer, topic, value, unknown + [("ce_id", b"unknown-type-1")])
    value_bad, headers_bad = _good("case-bad")
    await _send(big_producer, topic, value_bad, headers_bad)  # the handler fails on it
    await _send(big_producer, topic, b"x" * (5 * 1024 * 1024), [])  # 5 MB: too large for the DLQ topic
    for i in range(1, 6):
        value_i, headers_i = _good(f"case-{i}")
        await _send(big_producer, topic, value_i, headers_i)

    producer = make_producer(settings)
    await producer.start()
    relay = OutboxRelay(settings, engine, producer, "poison-" + uuid.uuid4().hex[:6])
    consumer = EventConsumer(
        settings, group=group, topics=[FEEDBACK], handler=handler, sessionmaker=maker, on_outbox=relay.wake
    )
    tasks = [asyncio.create_task(relay.run()), asyncio.create_task(consumer.run())]

    async def effects() -> list[str]:
        async with maker() as s:
            # this test's own records only: other tests publish survey answers to the same topic
            rows = await s.execute(
                text("SELECT case_id FROM test_effects WHERE grp = :g AND case_id LIKE 'case-%' ORDER BY n"),
                {"g": group},
            )
            return [r[0] for r in rows]

    async def all_good_applied() -> bool:
        return len(await effects()) >= 6

    await _wait(all_good_applied)
    assert await effects() == [f"case-{i}" for i in range(6)]

    full_group = settings.group(group)
    dlq = dead_letter_topic(topic, full_group)
    records = await _dlq_records(settings, dlq, 5)
    assert len(records) == 5, [dict(r.headers).get("dlq_error") for r in records]  # type: ignore[attr-defined]
    by_offset = {int(dict(r.headers)["dlq_original_offset"]): r for r in records}  # type: ignore[attr-defined]
    assert sorted(by_offset) == [1, 2, 3, 4, 5]
    for record in records:
        h = dict(record.headers)  # type: ignore[attr-defined]
        assert h["dlq_original_topic"] == topic.encode() and h["dlq_original_partition"] == b"0"
        assert h["dlq_group"] == full_group.encode()
    big = dict(by_offset[5].headers)  # type: ignore[attr-defined]
    assert big["dlq_inline"] == b"false" and big["dlq_size"] == str(5 * 1024 * 1024).encode()
    assert by_offset[5].value == b""  # type: ignore[attr-defined]
    assert b"KeyError" in dict(by_offset[4].headers)["dlq_error"]  # type: ignore[attr-defined]
    async with maker() as s:
        stored = (
            await s.execute(
                text('SELECT "offset", size, inline FROM dead_letters WHERE consumer_group = :g ORDER BY "offset"'),
                {"g": full_group},
            )
        ).all()
    assert [(o, inline) for o, _, inline in stored] == [(1, True), (2, True), (3, True), (4, True), (5, False)]
    assert stored[-1][1] == 5 * 1024 * 1024

    # a rewind (as after a crash or a broker change) reads every record again: nothing is dead-lettered twice
    consumer.stop()
    await asyncio.wait_for(tasks[1], timeout=15)
    admin_reset = EventConsumer(
        settings, group=group, topics=[FEEDBACK], handler=handler, sessionmaker=maker, on_outbox=relay.wake
    )
    reread = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=full_group,
        enable_auto_commit=False,
        fetch_max_bytes=16 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
    )
    await reread.start()
    await reread.seek_to_beginning()
    await reread.getmany(timeout_ms=2000)
    await reread.commit({TopicPartition(topic, 0): OffsetAndMetadata(0, "")})
    await reread.stop()
    task2 = asyncio.create_task(admin_reset.run())
    await asyncio.sleep(6)
    async with maker() as s:
        count = (
            await s.execute(text("SELECT count(*) FROM dead_letters WHERE consumer_group = :g"), {"g": full_group})
        ).scalar_one()
    assert count == 5
    assert await effects() == [f"case-{i}" for i in range(6)]
    assert len(await _dlq_records(settings, dlq, 5)) == 5

    # the cause is fixed: `linkage dlq replay` re-drives the handler's poison and it is applied
    broken.clear()
    async with maker() as s:
        bad_id = (
            await s.execute(
                text('SELECT id FROM dead_letters WHERE consumer_group = :g AND "offset" = 4'), {"g": full_group}
            )
        ).scalar_one()
    assert await _replay(settings, SCHEMA, [bad_id]) == 1

    async def bad_applied() -> bool:
        return "case-bad" in await effects()

    await _wait(bad_applied)
    admin_reset.stop()
    relay.stop()
    await asyncio.wait_for(asyncio.gather(task2, tasks[0]), timeout=15)
    await big_producer.stop()
    await producer.stop()
    await engine.dispose()


async def test_an_infrastructure_fault_is_retried_never_dead_lettered_or_skipped(settings: Settings) -> None:
    settings = settings.model_copy(
        update={
            "topic_prefix": f"{settings.topic_prefix}f{uuid.uuid4().hex[:6]}.",
            "consumer_retry_backoff_s": 0.01,
            "consumer_max_attempts": 2,
        }
    )
    await ensure_topics(settings, [FEEDBACK], partitions=1)
    engine = make_engine(settings, SCHEMA)
    maker = make_sessionmaker(engine)
    group = f"fault-{uuid.uuid4().hex[:6]}"
    async with maker() as s, s.begin():
        await s.execute(text("CREATE TABLE IF NOT EXISTS test_effects (n serial, grp text, case_id text)"))
    failures = {"left": 12}  # far more than consumer_max_attempts: a poison classifier would give up

    async def handler(session: AsyncSession, events: Sequence[ConsumedEvent]) -> None:
        for event in events:
            payload = event.payload
            assert isinstance(payload, SurveyAnsweredV1)
            if payload.case_id == "case-3" and failures["left"] > 0:
                failures["left"] -= 1
                raise ConnectionRefusedError("database went away")
            await session.execute(
                text("INSERT INTO test_effects (grp, case_id) VALUES (:g, :c)"), {"g": group, "c": payload.case_id}
            )

    producer = make_producer(settings)
    await producer.start()
    for i in range(8):
        value, headers = _good(f"case-{i}")
        await _send(producer, settings.topic(FEEDBACK), value, headers)
    consumer = EventConsumer(settings, group=group, topics=[FEEDBACK], handler=handler, sessionmaker=maker)
    task = asyncio.create_task(consumer.run())

    async def effects() -> list[str]:
        async with maker() as s:
            # this test's own records only: other tests publish survey answers to the same topic
            rows = await s.execute(
                text("SELECT case_id FROM test_effects WHERE grp = :g AND case_id LIKE 'case-%' ORDER BY n"),
                {"g": group},
            )
            return [r[0] for r in rows]

    async def faulted() -> bool:
        return consumer.status.startswith("fault")

    await _wait(faulted)

    async def done() -> bool:
        return len(await effects()) >= 8

    await _wait(done, timeout_s=90)
    assert await effects() == [f"case-{i}" for i in range(8)]  # in order, none skipped, none twice
    assert consumer.dead_lettered == 0 and consumer.healthy
    async with maker() as s:
        dead = (
            await s.execute(
                text("SELECT count(*) FROM dead_letters WHERE consumer_group = :g"), {"g": settings.group(group)}
            )
        ).scalar_one()
    assert dead == 0
    consumer.stop()
    await asyncio.wait_for(task, timeout=15)
    await producer.stop()
    await engine.dispose()
