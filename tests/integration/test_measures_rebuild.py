"""``linkage analytics rebuild``: projections rebuilt from the topics from the beginning equal the incremental ones.

A generated stream is published to the cases topic (a few records twice, as after a producer retry, and one record
that is not a CloudEvent) and patrol tasks to the patrols topic; the real consumers (``EventConsumer`` with the
service's handlers and groups) build the projections incrementally; the rebuild replays the topics into a scratch
schema, finds every table equal, swaps, and every figure stays the same; the live consumer afterwards applies new
events exactly once. The command line (``linkage analytics rebuild --check``) says so too.
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
from services.analytics.hotspots import consumers as patrol
from services.analytics.measures import service
from services.analytics.measures.periods import resolve
from services.analytics.rebuild import REBUILD_SCHEMA, rebuild
from shared import topics
from shared.consumer import EventConsumer
from shared.db import make_engine, make_sessionmaker
from shared.events.envelope import encode_event
from shared.events.patrol import PatrolTaskDoneV1, PatrolTaskOpenedV1
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


async def publish_patrols(own: Settings, n: int) -> int:
    """Patrol tasks opened and (most) done, as intake publishes them; returns the events sent."""
    producer = make_producer(own, client_id="rebuild-test-patrol")
    await producer.start()
    sent = 0
    try:
        for i in range(n):
            grid = f"S0{i % 5 + 1}C01G0{i % 3 + 1}"
            opened = PatrolTaskOpenedV1(
                task_id=f"T{i:05d}", hotspot_id=f"{grid}:CG:{i}", grid_code=grid, category="CG", opened_at=NOW
            )
            events: list[Any] = [opened]
            if i % 4:
                events.append(
                    PatrolTaskDoneV1(
                        task_id=opened.task_id,
                        hotspot_id=opened.hotspot_id,
                        grid_code=grid,
                        category="CG",
                        result="handled" if i % 2 else "nothing_found",
                        worker_id="W-1",
                        done_at=NOW,
                    )
                )
            for event in events:
                headers, value, _ = encode_event(event, source="intake", event_id=f"pt-{sent:06d}")
                await producer.send(own.topic(topics.PATROLS), value=value, key=grid.encode(), headers=headers)
                sent += 1
        await producer.flush()
    finally:
        await producer.stop()
    return sent


async def applied(maker: async_sessionmaker[AsyncSession], own: Settings, group: str = GROUP) -> int:
    async with maker() as session:
        return int(
            (
                await session.execute(
                    text("SELECT count(*) FROM processed_events WHERE consumer_group = :g AND outcome = 'ok'"),
                    {"g": own.group(group)},
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


async def wait_applied(maker: async_sessionmaker[AsyncSession], own: Settings, n: int, group: str = GROUP) -> None:
    for _ in range(600):
        if await applied(maker, own, group) >= n:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the consumer applied {await applied(maker, own, group)} of {n} events")


async def test_rebuild_from_the_topics_equals_the_incremental_projections(
    own: Settings, maker: async_sessionmaker[AsyncSession]
) -> None:
    await ensure_topics(own, (*TOPICS, *patrol.TOPICS), partitions=4)
    async with maker() as session, session.begin():
        for table in (*PROJECTION_TABLES, "department_reviews", "patrol_task_status"):
            await session.execute(text(f"DELETE FROM {table}"))
    events = simulate(N_CASES, seed=7)
    first, later = events[: len(events) - 300], events[len(events) - 300 :]
    sent = await publish(own, first, poison=True)
    patrols = await publish_patrols(own, 40)

    consumer = EventConsumer(own, group=GROUP, topics=list(TOPICS), handler=handle_case_events, sessionmaker=maker)
    patrol_consumer = EventConsumer(
        own, group=patrol.GROUP, topics=list(patrol.TOPICS), handler=patrol.handle_patrol_events, sessionmaker=maker
    )
    task = asyncio.create_task(consumer.run())
    patrol_task = asyncio.create_task(patrol_consumer.run())
    try:
        await wait_applied(maker, own, sent)
        await wait_applied(maker, own, patrols, patrol.GROUP)
        before = await figures(maker)
        assert any(f.get("total", {}).get("received") for f in before)

        result = await rebuild(own, wait_s=20)
        assert result.applied == sent + patrols and result.duplicates > 0 and result.skipped == 1
        assert result.in_sync and result.behind == 0
        assert result.equal is True, [(t.table, t.only_live, t.only_rebuilt) for t in result.tables]
        compared = set(PROJECTION_TABLES) - {"ticker_events"} | {"patrol_task_status"}
        assert {t.table for t in result.tables if t.equal} == compared
        assert result.swapped and not result.truncated
        assert next(t for t in result.tables if t.table == "patrol_task_status").live_rows == 40
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
        patrol_consumer.stop()
        await asyncio.wait_for(asyncio.gather(task, patrol_task), timeout=15)
