"""Outbox relay and idempotent consumer against real PostgreSQL and a real Kafka-protocol broker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.consumer import ConsumedEvent, EventConsumer, claim_events
from shared.db import make_engine, make_sessionmaker
from shared.events.feedback import SurveyAnsweredV1
from shared.kafka import ensure_topics, make_producer
from shared.outbox import OutboxRelay, add_event
from shared.settings import Settings
from shared.topics import FEEDBACK, dead_letter_topic

SCHEMA = "analytics"  # any migrated service schema has outbox + processed_events


def survey(case_id: str) -> SurveyAnsweredV1:
    return SurveyAnsweredV1(case_id=case_id, tracking_code="T", result="满意", answered_at=datetime.now(UTC))


async def test_claim_events_reports_only_new_ids(settings: Settings) -> None:
    engine = make_engine(settings, SCHEMA)
    maker = make_sessionmaker(engine)
    group = f"g-{uuid.uuid4().hex[:6]}"
    async with maker() as s, s.begin():
        assert await claim_events(s, group, ["a", "b"]) == {"a", "b"}
    async with maker() as s, s.begin():
        assert await claim_events(s, group, ["b", "c"]) == {"c"}
    async with maker() as s:
        await s.begin()
        assert await claim_events(s, group, ["d"]) == {"d"}
        await s.rollback()  # effects rolled back → the claim is rolled back too
    async with maker() as s, s.begin():
        assert await claim_events(s, group, ["d"]) == {"d"}
    await engine.dispose()


async def test_relay_publishes_in_order_and_consumer_applies_each_once_with_dead_letters(settings: Settings) -> None:
    settings = settings.model_copy(update={"topic_prefix": f"{settings.topic_prefix}m{uuid.uuid4().hex[:6]}."})
    await ensure_topics(settings, [FEEDBACK], partitions=2)
    engine = make_engine(settings, SCHEMA)
    maker = make_sessionmaker(engine)
    producer = make_producer(settings)
    await producer.start()
    async with maker() as s, s.begin():
        await s.execute(text("DELETE FROM outbox"))
    relay = OutboxRelay(settings, engine, producer, "test-" + uuid.uuid4().hex[:6])
    relay_task = asyncio.create_task(relay.run())

    case_ids = [f"case-{i:03d}" for i in range(60)]
    async with maker() as s, s.begin():
        for case_id in case_ids:
            add_event(s, FEEDBACK, survey(case_id), key="same-key", source="test")
    relay.wake()

    group = f"test-{uuid.uuid4().hex[:6]}"
    async with maker() as s, s.begin():
        await s.execute(text("CREATE TABLE IF NOT EXISTS test_effects (n serial, grp text, case_id text)"))

    async def handler(session: AsyncSession, events: Sequence[ConsumedEvent]) -> None:
        for event in events:
            payload = event.payload
            assert isinstance(payload, SurveyAnsweredV1)
            if payload.case_id == "case-013":
                raise RuntimeError("poison message")
            # the effect lives in the same transaction as the tracking record
            await session.execute(
                text("INSERT INTO test_effects (grp, case_id) VALUES (:g, :c)"), {"g": group, "c": payload.case_id}
            )

    async def applied_effects() -> list[str]:
        async with maker() as s:
            rows = await s.execute(text("SELECT case_id FROM test_effects WHERE grp = :g ORDER BY n"), {"g": group})
            return [r[0] for r in rows]

    consumer = EventConsumer(
        settings.model_copy(update={"consumer_retry_backoff_s": 0.01}),
        group=group,
        topics=[FEEDBACK],
        handler=handler,
        sessionmaker=maker,
        producer=producer,
    )
    consumer_task = asyncio.create_task(consumer.run())
    applied: list[str] = []
    for _ in range(300):
        applied = await applied_effects()
        if len(applied) >= 59:
            break
        await asyncio.sleep(0.1)
    # one key → one partition → publication order is outbox order; the poison one is skipped
    assert applied == [c for c in case_ids if c != "case-013"]

    dlq = dead_letter_topic(settings.topic(FEEDBACK), settings.group(group))
    reader = AIOKafkaConsumer(dlq, bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest")
    await reader.start()
    try:
        record = await asyncio.wait_for(reader.getone(), timeout=20)
    finally:
        await reader.stop()
    headers = dict(record.headers)
    assert b"poison message" in headers["dlq_error"]
    assert headers["ce_type"] == b"cn.linkage.feedback.survey_answered.v1"

    # redeliver everything (as after a crash before the offset commit): nothing is applied twice
    async with maker() as s, s.begin():
        rows = (await s.execute(text("SELECT headers, payload FROM outbox ORDER BY seq"))).all()
    for headers_json, payload in rows:
        await producer.send_and_wait(
            settings.topic(FEEDBACK),
            value=bytes(payload),
            key=b"same-key",
            headers=[(k, v.encode()) for k, v in headers_json],
        )
    await asyncio.sleep(2)
    assert await applied_effects() == [c for c in case_ids if c != "case-013"]
    async with maker() as s:
        sent = (
            await s.execute(
                text("SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL AND event_type <> 'linkage.dead_letter'")
            )
        ).scalar_one()
        assert sent == 60

    consumer.stop()
    relay.stop()
    await asyncio.wait_for(asyncio.gather(consumer_task, relay_task), timeout=15)
    await producer.stop()
    await engine.dispose()


async def test_relay_republishes_everything_when_the_broker_is_new(settings: Settings) -> None:
    engine = make_engine(settings, SCHEMA)
    maker = make_sessionmaker(engine)
    producer = make_producer(settings)
    await producer.start()
    relay = OutboxRelay(settings, engine, producer, "test-" + uuid.uuid4().hex[:6])
    async with maker() as s, s.begin():
        await s.execute(text("DELETE FROM outbox"))
        await s.execute(text("DELETE FROM broker_state"))
        add_event(s, FEEDBACK, survey("c-1"), key="k", source="test")
    assert await relay.check_broker() is False  # first sight of this broker: remembered
    assert await relay.publish_batch() == 1
    async with maker() as s, s.begin():
        await s.execute(text("UPDATE broker_state SET cluster_id = 'a-broker-that-is-gone'"))
    assert await relay.check_broker() is True  # different broker → everything retained goes again
    assert await relay.publish_batch() == 1
    await producer.stop()
    await engine.dispose()


async def test_purge_keeps_unsent_rows_and_drops_expired_ones(settings: Settings) -> None:
    engine = make_engine(settings, SCHEMA)
    maker = make_sessionmaker(engine)
    producer = make_producer(settings)
    relay = OutboxRelay(
        settings.model_copy(update={"outbox_retention_hours": 0, "processed_retention_hours": 0}),
        engine,
        producer,
        "test-purge",
    )
    async with maker() as s, s.begin():
        await s.execute(text("DELETE FROM outbox"))
        add_event(s, FEEDBACK, survey("kept"), key="k", source="test")
        add_event(s, FEEDBACK, survey("sent"), key="k", source="test")
        await s.flush()
        await s.execute(
            text("UPDATE outbox SET sent_at = now() - interval '1 hour' WHERE seq = (SELECT max(seq) FROM outbox)")
        )
        await claim_events(s, "purge-test", ["old-event"])
        await s.execute(
            text(
                "UPDATE processed_events SET processed_at = now() - interval '1 hour' "
                "WHERE consumer_group = 'purge-test'"
            )
        )
    assert await relay.purge() == 1
    async with maker() as s:
        left = (await s.execute(text("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))).scalar_one()
        tracked = (
            await s.execute(text("SELECT count(*) FROM processed_events WHERE consumer_group = 'purge-test'"))
        ).scalar_one()
    assert (left, tracked) == (1, 0)
    await engine.dispose()


def test_tracking_records_must_outlive_the_outbox() -> None:
    with pytest.raises(ValueError, match="PROCESSED_RETENTION"):
        Settings(outbox_retention_hours=48, processed_retention_hours=24)
