"""Idempotent, batched Kafka consumer with manual offset commits and a per-group dead-letter topic.

A batch from ``getmany`` is applied in ONE database transaction together with the ids of the
events it contains (``processed_events``); offsets are committed to Kafka only after that
transaction commits. A redelivered event is recognised by its id and skipped, so effects happen
exactly once over at-least-once delivery. A batch that keeps failing is retried event by event;
an event that still fails goes to ``<topic>.dlq.<group>`` with the error in headers.
"""

from __future__ import annotations

import asyncio
import contextlib
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata
from prometheus_client import Counter
from sqlalchemy import DateTime, PrimaryKeyConstraint, String, func, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base
from shared.events import Envelope, EventDecodeError, EventPayload, decode_message
from shared.kafka import ClusterIdentity, ensure_topics
from shared.logging import get_logger
from shared.settings import Settings
from shared.topics import dead_letter_topic
from shared.tracing import consume_span

log = get_logger(__name__)

CONSUMED = Counter("linkage_events_consumed_total", "Events applied by a consumer", ["group", "type"])
DUPLICATES = Counter("linkage_events_duplicate_total", "Redelivered events skipped", ["group"])
DEAD = Counter("linkage_events_dead_lettered_total", "Events sent to the dead-letter topic", ["group"])


class ProcessedEvent(Base):
    """Tracking record: this consumer group has applied this event (written with the effects)."""

    __tablename__ = "processed_events"

    consumer_group: Mapped[str] = mapped_column(String(200))
    event_id: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(10), server_default="ok")
    processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)

    __table_args__ = (PrimaryKeyConstraint("consumer_group", "event_id"),)


@dataclass(frozen=True)
class ConsumedEvent:
    envelope: Envelope
    payload: EventPayload
    topic: str
    partition: int
    offset: int
    key: str | None

    @property
    def id(self) -> str:
        return self.envelope.id

    @property
    def type(self) -> str:
        return self.envelope.type


BatchHandler = Callable[[AsyncSession, Sequence[ConsumedEvent]], Awaitable[None]]

_CLAIM = text(
    "INSERT INTO processed_events (consumer_group, event_id, outcome) "
    "SELECT :g, unnest(CAST(:ids AS text[])), :outcome ON CONFLICT DO NOTHING RETURNING event_id"
)


async def claim_events(session: AsyncSession, group: str, ids: Sequence[str], outcome: str = "ok") -> set[str]:
    """Record event ids as processed; return the ids that were NOT processed before."""
    if not ids:
        return set()
    result = await session.execute(_CLAIM, {"g": group, "ids": list(ids), "outcome": outcome})
    return {row[0] for row in result}


class EventConsumer:
    def __init__(
        self,
        settings: Settings,
        *,
        group: str,
        topics: Sequence[str],
        handler: BatchHandler,
        sessionmaker: async_sessionmaker[AsyncSession],
        producer: AIOKafkaProducer,
    ) -> None:
        self.settings = settings
        self.group = settings.group(group)
        self.topics = [settings.topic(t) for t in topics]
        self.handler = handler
        self.sessionmaker = sessionmaker
        self.producer = producer
        self._stopping = False
        self._consumer: AIOKafkaConsumer | None = None
        self._cluster = ClusterIdentity(settings)
        self._cluster_seen: str | None = None
        self.applied = 0

    def stop(self) -> None:
        self._stopping = True

    async def run(self) -> None:
        await ensure_topics(
            self.settings, [dead_letter_topic(t, self.group) for t in self.topics], partitions=1, exact=True
        )
        consumer = AIOKafkaConsumer(
            *self.topics,
            bootstrap_servers=self.settings.kafka_bootstrap,
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=self.settings.consumer_session_timeout_ms,
            heartbeat_interval_ms=self.settings.consumer_heartbeat_interval_ms,
            max_poll_records=self.settings.consumer_batch_size,
            metadata_max_age_ms=5000,
        )
        self._consumer = consumer
        await consumer.start()
        self._cluster_seen = await self._cluster.cluster_id()
        log.info("consumer started", group=self.group, topics=self.topics)
        loop = asyncio.get_running_loop()
        next_check = loop.time() + 2.0
        try:
            while not self._stopping:
                try:
                    batches = await consumer.getmany(
                        timeout_ms=200, max_records=self.settings.consumer_batch_size
                    )
                    for tp, records in batches.items():
                        if records:
                            await self._process(tp, records)
                            await consumer.commit({tp: OffsetAndMetadata(records[-1].offset + 1, "")})
                    if loop.time() >= next_check:
                        next_check = loop.time() + 2.0
                        await self._rewind_if_broker_changed(consumer)
                except (TimeoutError, KafkaError, OSError) as exc:
                    log.warning("consumer: broker error, retrying", group=self.group, error=repr(exc))
                    await asyncio.sleep(1.0)
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()
            await self._cluster.close()
            log.info("consumer stopped", group=self.group)

    async def _rewind_if_broker_changed(self, consumer: AIOKafkaConsumer) -> None:
        """A new broker (new cluster id) lost its topics: re-read everything; duplicates are skipped."""
        current = await self._cluster.cluster_id()
        if current is None or current == self._cluster_seen:
            return
        if self._cluster_seen is not None:
            log.warning("broker changed; re-reading assigned partitions from the beginning", group=self.group)
            assigned = list(consumer.assignment())
            if assigned:
                await consumer.seek_to_beginning(*assigned)
        self._cluster_seen = current

    async def _process(self, tp: TopicPartition, records: Sequence[ConsumerRecord]) -> None:
        events: list[ConsumedEvent] = []
        for record in records:
            try:
                envelope = decode_message(record.headers, record.value)
                payload = envelope.payload()
            except EventDecodeError as exc:
                await self._dead_letter(record, exc, event_id=_header(record, "ce_id"))
                continue
            key = record.key.decode() if record.key else None
            events.append(ConsumedEvent(envelope, payload, record.topic, record.partition, record.offset, key))
        if not events:
            return
        for attempt in range(1, self.settings.consumer_max_attempts + 1):
            try:
                await self._apply(events)
                return
            except Exception as exc:  # noqa: BLE001 - any handler failure is retried, then isolated
                log.warning("batch failed", group=self.group, attempt=attempt, size=len(events), error=repr(exc))
                await asyncio.sleep(self.settings.consumer_retry_backoff_s * attempt)
        for event in events:
            await self._apply_one_or_dead_letter(event, records)

    async def _apply(self, events: Sequence[ConsumedEvent]) -> None:
        async with self.sessionmaker() as session, session.begin():
            new_ids = await claim_events(session, self.group, [e.id for e in events])
            fresh: list[ConsumedEvent] = []
            seen: set[str] = set()
            for event in events:
                if event.id in new_ids and event.id not in seen:
                    seen.add(event.id)
                    fresh.append(event)
            if len(fresh) < len(events):
                DUPLICATES.labels(self.group).inc(len(events) - len(fresh))
            if fresh:
                with consume_span(self.group, [e.envelope.traceparent for e in fresh]):
                    await self.handler(session, fresh)
        self.applied += len(fresh)
        for event in fresh:
            CONSUMED.labels(self.group, event.type).inc()

    async def _apply_one_or_dead_letter(self, event: ConsumedEvent, records: Sequence[ConsumerRecord]) -> None:
        error: BaseException | None = None
        for attempt in range(1, self.settings.consumer_max_attempts + 1):
            try:
                await self._apply([event])
                return
            except Exception as exc:  # noqa: BLE001
                error = exc
                await asyncio.sleep(self.settings.consumer_retry_backoff_s * attempt)
        record = next(r for r in records if r.offset == event.offset)
        assert error is not None
        await self._dead_letter(record, error, event_id=event.id)

    async def _dead_letter(self, record: ConsumerRecord, error: BaseException, *, event_id: str | None) -> None:
        dlq = dead_letter_topic(record.topic, self.group)
        await ensure_topics(self.settings, [dlq], partitions=1, exact=True)  # a restarted broker may have lost it
        headers = list(record.headers or ()) + [
            ("dlq_error", repr(error)[:2000].encode()),
            ("dlq_traceback", "".join(traceback.format_exception(error))[-4000:].encode()),
            ("dlq_group", self.group.encode()),
            ("dlq_original_topic", record.topic.encode()),
            ("dlq_original_partition", str(record.partition).encode()),
            ("dlq_original_offset", str(record.offset).encode()),
        ]
        await (await self.producer.send(dlq, value=record.value, key=record.key, headers=headers))
        if event_id:
            async with self.sessionmaker() as session, session.begin():
                await claim_events(session, self.group, [event_id], outcome="dead")
        DEAD.labels(self.group).inc()
        log.error("event dead-lettered", group=self.group, topic=dlq, event_id=event_id, error=repr(error))


def _header(record: ConsumerRecord, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode("utf-8", "replace")
    return None
