"""``linkage analytics rebuild``: projections rebuilt from the topics from the beginning equal the incremental ones.

A generated stream is published to the cases topic (a few records twice, as after a producer retry, and one record
that is not a CloudEvent); the real analytics consumer (``EventConsumer`` with the service's handler and group)
builds the projections incrementally; the rebuild replays the topic into a scratch schema, finds every table equal,
swaps, and every figure stays the same; the live consumer afterwards applies new events exactly once. The command
line (``linkage analytics rebuild --check``) says so too.
"""

from __future__ import annotations

import asyncio
import os
import random
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from services.analytics.consumers import GROUP, PROJECTION_TABLES, TOPICS, handle_case_events
from services.analytics.measures import service
from services.analytics.measures.periods import resolve
from services.analytics.rebuild import REBUILD_SCHEMA, rebuild
from shared import topics
from shared.consumer import EventConsumer
from shared.db import make_engine, make_sessionmaker
from shared.events.envelope import encode_event
from shared.kafka import ensure_topics, make_producer
from shared.settings import Settings, get_settings
from tests.integration.measures_stream import NOW, simulate

N_CASES = 500


@pytest.fixture(scope="module")
def own(settings: Settings) -> Settings:
    tag = uuid.uuid4().hex[:6]
    return settings.model_copy(
        update={
            "topic_prefix": f"{settings.topic_prefix}rb{tag}.",
            "group_prefix": f"{settings.group_prefix}rb{tag}.",
            "partitions": 4,
            "consumer_retry_backoff_s": 0.01,
        }
    )


@pytest.fixture(scope="module")
async def maker(own: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(own, "analytics", pool_size=3)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


async def publish(own: Settings, events: list[Any], *, poison: bool = False, start: int = 0) -> int:
    """Each event keyed by its case (one case stays in order); 3 % sent twice. Returns distinct events sent."""
    producer = make_producer(own, client_id="rebuild-test")
    await producer.start()
    rng = random.Random(start)
    try:
        for i, event in enumerate(events):
            headers, value, _ = encode_event(event, source="dispatch", event_id=f"rb-{start + i:07d}")
            for _ in range(2 if rng.random() < 0.03 else 1):
                await producer.send(own.topic(topics.CASES), value=value, key=event.case_id.encode(), headers=headers)
            if poison and i == len(events) // 2:
                await producer.send(own.topic(topics.CASES), value=b"not a cloud event", key=b"poison")
        await producer.flush()
    finally:
        await producer.stop()
    return len(events)


async def applied(maker: async_sessionmaker[AsyncSession], own: Settings) -> int:
    async with maker() as session:
        return int(
            (
                await session.execute(
                    text("SELECT count(*) FROM processed_events WHERE consumer_group = :g AND outcome = 'ok'"),
                    {"g": own.group(GROUP)},
                )
            ).scalar_one()
        )


async def figures(maker: async_sessionmaker[AsyncSession]) -> list[dict[str, Any]]:
    out = []
    async with maker() as session:
        for p in (
            resolve("month", date(2026, 10, 1)),
            resolve("month", date(2026, 11, 1)),
            resolve("week", date(2026, 10, 20)),
        ):
            for group_by in service.GROUPS:
                f = await service.measures_for(session, p, group_by=group_by, now=NOW)
                f.pop("generated_at")
                out.append(f)
            ranked = await service.ranking_for(session, p, now=NOW)
            ranked.pop("generated_at")
            out.append(ranked)
    return out


async def wait_applied(maker: async_sessionmaker[AsyncSession], own: Settings, n: int) -> None:
    for _ in range(600):
        if await applied(maker, own) >= n:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the consumer applied {await applied(maker, own)} of {n} events")


async def test_rebuild_from_the_topics_equals_the_incremental_projections(
    own: Settings, maker: async_sessionmaker[AsyncSession]
) -> None:
    await ensure_topics(own, TOPICS, partitions=4)
    async with maker() as session, session.begin():
        for table in (*PROJECTION_TABLES, "department_reviews"):
            await session.execute(text(f"DELETE FROM {table}"))
    events = simulate(N_CASES, seed=7)
    first, later = events[: len(events) - 300], events[len(events) - 300 :]
    sent = await publish(own, first, poison=True)

    consumer = EventConsumer(own, group=GROUP, topics=list(TOPICS), handler=handle_case_events, sessionmaker=maker)
    task = asyncio.create_task(consumer.run())
    try:
        await wait_applied(maker, own, sent)
        before = await figures(maker)
        assert any(f.get("total", {}).get("received") for f in before)

        result = await rebuild(own, wait_s=20)
        assert result.applied == sent and result.duplicates > 0 and result.skipped == 1
        assert result.in_sync and result.behind == 0
        assert result.equal is True, [(t.table, t.only_live, t.only_rebuilt) for t in result.tables]
        assert {t.table for t in result.tables if t.equal} == set(PROJECTION_TABLES) - {"ticker_events"}
        assert result.swapped and not result.truncated
        assert await figures(maker) == before
        async with maker() as session:
            schemas = (await session.execute(text("SELECT nspname FROM pg_namespace"))).scalars().all()
        assert REBUILD_SCHEMA not in schemas

        # the live consumer goes on after the swap: new events once, nothing of the old ones again
        total = sent + await publish(own, later, start=100_000)
        await wait_applied(maker, own, total)
        await asyncio.sleep(1.0)
        assert await applied(maker, own) == total
        after_more = await figures(maker)

        # and a second rebuild of the longer stream still equals what the consumer built
        result = await rebuild(own, check_only=True, wait_s=20)
        assert result.equal is True and not result.swapped
        assert await figures(maker) == after_more

        # the command line: a progress bar, the comparison table, exit 0
        env = {
            "LINKAGE_DATABASE_URL": own.database_url,
            "LINKAGE_KAFKA_BOOTSTRAP": own.kafka_bootstrap,
            "LINKAGE_TOPIC_PREFIX": own.topic_prefix,
            "LINKAGE_GROUP_PREFIX": own.group_prefix,
            "COLUMNS": "200",
        }
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        get_settings.cache_clear()
        try:
            from linkage.cli import app

            outcome = await asyncio.to_thread(
                CliRunner().invoke, app, ["analytics", "rebuild", "--check", "--wait", "10"]
            )
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            get_settings.cache_clear()
        assert outcome.exit_code == 0, outcome.output
        assert "rebuilt projections equal the incrementally built ones" in outcome.output
        assert "measure_facts" in outcome.output and "records" in outcome.output
    finally:
        consumer.stop()
        await asyncio.wait_for(task, timeout=15)
