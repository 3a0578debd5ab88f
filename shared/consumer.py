"""Idempotent, batched Kafka consumer with manual offset commits and a per-group dead-letter topic.

A batch from ``getmany`` is applied in ONE database transaction together with the ids of the
events it contains (``processed_events``); offsets are committed to Kafka only after that
transaction commits. A redelivered event is recognised by its id and skipped, so effects happen
exactly once over at-least-once delivery.

Two kinds of failure are told apart (``shared.faults``):

- an infrastructure fault (database or broker unavailable) stops the batch: nothing is committed,
  the partition is rewound to its first unapplied record, and the consumer backs off and tries
  again until the infrastructure is back. Such a record is never dead-lettered or skipped;
- a poison record fails deterministically while the database answers: it is retried, isolated,
  and then dead-lettered exactly once (see ``shared.dead_letters``), and the stream goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from prometheus_client import Counter
from sqlalchemy import DateTime, PrimaryKeyConstraint, String, func, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base
from shared.dead_letters import dead_letter
from shared.events import Envelope, EventDecodeError, EventPayload, decode_message
from shared.faults import Backoff, is_infrastructure_error
from shared.kafka import ClusterIdentity
from shared.logging import get_logger
from shared.metrics import ConsumerLag
from shared.settings import Settings
from shared.tracing import consume_span

log = get_logger(__name__)

CONSUMED = Counter("linkage_events_consumed_total", "Events applied by a consumer", ["group", "type"])
DUPLICATES = Counter("linkage_events_duplicate_total", "Redelivered events skipped", ["group"])
DEAD = Counter("linkage_events_dead_lettered_total", "Records dead-lettered (once each)", ["group"])
FAULTS = Counter("linkage_consumer_faults_total", "Batches stopped by an infrastructure fault", ["group"])


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


async def claim_fresh(session: AsyncSession, group: str, events: Sequence[ConsumedEvent]) -> list[ConsumedEvent]:
    """Claim ``events`` for ``group``; return those not processed before, each id once, in their order."""
    new_ids = await claim_events(session, group, [e.id for e in events])
    fresh: list[ConsumedEvent] = []
    for event in events:
        if event.id in new_ids:
            new_ids.discard(event.id)  # a second copy of an id in the same batch is a duplicate too
            fresh.append(event)
    return fresh


class InfrastructureFault(Exception):
    """The database or broker failed while applying a batch: rewind, back off, try again."""


class EventConsumer:
    def __init__(
        self,
        settings: Settings,
        *,
        group: str,
        topics: Sequence[str],
        handler: BatchHandler,
        sessionmaker: async_sessionmaker[AsyncSession],
        producer: AIOKafkaProducer | None = None,
        on_outbox: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.group = settings.group(group)
        self.topics = [settings.topic(t) for t in topics]
        self.handler = handler
        self.sessionmaker = sessionmaker
        self.producer = producer  # unused: dead letters leave through the outbox; kept for callers
        self.on_outbox = on_outbox or (lambda: None)
        self._stopping = False
        self._consumer: AIOKafkaConsumer | None = None
        self._cluster = ClusterIdentity(settings)
        self._cluster_seen: str | None = None
        self._backoff = Backoff(initial=0.2, cap=5.0)
        self.applied = 0
        self.dead_lettered = 0
        self.status = "starting"
        self._lag = ConsumerLag(self.group)

    @property
    def healthy(self) -> bool:
        return not self.status.startswith("fault")

    def stop(self) -> None:
        self._stopping = True

    async def run(self) -> None:
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
            max_partition_fetch_bytes=self.settings.consumer_max_fetch_bytes,
            fetch_max_bytes=self.settings.consumer_max_fetch_bytes,
            fetch_max_wait_ms=self.settings.consumer_fetch_max_wait_ms,
        )
        self._consumer = consumer
        try:
            await consumer.start()
            self._cluster_seen = await self._cluster.cluster_id()
            log.info("consumer started", group=self.group, topics=self.topics)
            await self._poll_loop(consumer)
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()
            await self._cluster.close()
            self._lag.clear()
            log.info("consumer stopped", group=self.group)

    async def _poll_loop(self, consumer: AIOKafkaConsumer) -> None:
        loop = asyncio.get_running_loop()
        next_check = loop.time() + 2.0
        while not self._stopping:
            try:
                batches = await consumer.getmany(timeout_ms=200, max_records=self.settings.consumer_batch_size)
                await self._handle_batches(consumer, batches)
                await self._lag.update(consumer)
                if loop.time() >= next_check:
                    next_check = loop.time() + 2.0
                    await self._rewind_if_broker_changed(consumer)
                self._mark_healthy()
            except InfrastructureFault as fault:
                await self._back_off(f"fault: {fault}")
            except Exception as exc:
                if not is_infrastructure_error(exc):
                    raise  # a bug in the consumer itself: the supervisor restarts it
                await self._back_off(f"fault: broker: {exc!r}")

    async def _handle_batches(
        self, consumer: AIOKafkaConsumer, batches: dict[TopicPartition, list[ConsumerRecord]]
    ) -> None:
        pending = [(tp, records) for tp, records in batches.items() if records]
        for index, (tp, records) in enumerate(pending):
            try:
                await self._process(records)
            except InfrastructureFault:
                # re-read from the first record whose effects are not committed, on every partition not done
                for later_tp, later_records in pending[index:]:
                    consumer.seek(later_tp, later_records[0].offset)
                raise
            await consumer.commit({tp: OffsetAndMetadata(records[-1].offset + 1, "")})

    def _mark_healthy(self) -> None:
        if self.status != "ok":
            log.info("consumer healthy", group=self.group, previous=self.status)
        self.status = "ok"
        self._backoff.reset()

    async def _back_off(self, status: str) -> None:
        FAULTS.labels(self.group).inc()
        self.status = status[:300]
        delay = self._backoff.next_delay()
        log.warning("consumer: infrastructure fault, backing off", group=self.group, status=self.status, delay_s=delay)
        await asyncio.sleep(delay)

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

    async def _process(self, records: Sequence[ConsumerRecord]) -> None:
        events: list[ConsumedEvent] = []
        for record in records:
            try:
                envelope = decode_message(record.headers, record.value)
                payload = envelope.payload()
            except EventDecodeError as exc:  # malformed on the wire: poison without any database involved
                await self._dead_letter(record, exc, event_id=_header(record, "ce_id"))
                continue
            key = record.key.decode("utf-8", "replace") if record.key else None
            events.append(ConsumedEvent(envelope, payload, record.topic, record.partition, record.offset, key))
        if not events:
            return
        error = await self._try(events, self.settings.consumer_max_attempts)
        if error is None:
            return
        by_offset = {r.offset: r for r in records}
        for event in events:  # isolate the poison: every other event still applies
            error = await self._try([event], self.settings.consumer_max_attempts)
            if error is not None:
                await self._dead_letter(by_offset[event.offset], error, event_id=event.id)

    async def _try(self, events: Sequence[ConsumedEvent], attempts: int) -> Exception | None:
        """Apply ``events``; return the deterministic error after ``attempts`` tries, or raise a fault."""
        error: Exception | None = None
        for attempt in range(1, attempts + 1):
            try:
                await self._apply(events)
                return None
            except Exception as exc:
                await self._raise_if_fault(exc)
                error = exc
                log.warning("batch failed", group=self.group, attempt=attempt, size=len(events), error=repr(exc))
                await asyncio.sleep(self.settings.consumer_retry_backoff_s * attempt)
        return error

    async def _raise_if_fault(self, exc: BaseException) -> None:
        """An error is only the record's fault when the database is demonstrably fine."""
        if is_infrastructure_error(exc):
            raise InfrastructureFault(repr(exc)[:300]) from exc
        try:
            async with self.sessionmaker() as session:
                await session.execute(text("SELECT 1"))
        except Exception as health_exc:
            raise InfrastructureFault(f"database check failed: {health_exc!r}"[:300]) from exc

    async def _apply(self, events: Sequence[ConsumedEvent]) -> None:
        async with self.sessionmaker() as session, session.begin():
            fresh = await claim_fresh(session, self.group, events)
            if len(fresh) < len(events):
                DUPLICATES.labels(self.group).inc(len(events) - len(fresh))
            if fresh:
                with consume_span(self.group, [e.envelope.traceparent for e in fresh]):
                    await self.handler(session, fresh)
        self.applied += len(fresh)
        for event in fresh:
            CONSUMED.labels(self.group, event.type).inc()

    async def _dead_letter(self, record: ConsumerRecord, error: BaseException, *, event_id: str | None) -> None:
        """Record the poison once (table + outbox in one transaction); a database failure here is a fault."""
        try:
            async with self.sessionmaker() as session, session.begin():
                if event_id:
                    await claim_events(session, self.group, [event_id], outcome="dead")
                stored = await dead_letter(session, self.settings, record, error, group=self.group, event_id=event_id)
        except Exception as exc:
            raise InfrastructureFault(f"could not store a dead letter: {exc!r}"[:300]) from exc
        if stored:
            self.dead_lettered += 1
            DEAD.labels(self.group).inc()
            self.on_outbox()
            log.error(
                "record dead-lettered",
                group=self.group,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                event_id=event_id,
                error=repr(error)[:500],
            )


def _header(record: ConsumerRecord, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode("utf-8", "replace")
    return None
