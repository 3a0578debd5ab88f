"""Transactional outbox: events are rows written in the same transaction as the state change.

The relay publishes unsent rows in ``seq`` order (so per-key order is kept), marks them sent with
their Kafka partition and offset in one statement, and keeps sent rows for a retention window.
If the broker loses data (the embedded broker keeps topics in memory and gets a new cluster id
on every start), the relay notices the changed cluster id and re-publishes everything it still
retains; idempotent consumers make the repeats harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from datetime import datetime

from aiokafka import AIOKafkaProducer
from prometheus_client import Counter, Gauge
from sqlalchemy import BigInteger, DateTime, Identity, Index, Integer, LargeBinary, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base
from shared.events import Envelope, EventPayload, encode_event
from shared.faults import Backoff, is_infrastructure_error
from shared.kafka import ClusterIdentity, ensure_topics
from shared.logging import get_logger
from shared.metrics import mark_success
from shared.settings import Settings
from shared.tracing import current_traceparent, publish_context

log = get_logger(__name__)

PUBLISHED = Counter("linkage_outbox_published_total", "Outbox rows published to Kafka", ["service", "topic"])
REPUBLISHED = Counter("linkage_outbox_broker_loss_total", "Times the broker was found to have lost data", ["service"])
PENDING = Gauge("linkage_outbox_pending", "Unsent outbox rows seen by the last relay pass", ["service"])


class BrokerState(Base):
    """The cluster id of the broker this service last published to."""

    __tablename__ = "broker_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cluster_id: Mapped[str] = mapped_column(String(200))
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class OutboxRow(Base):
    __tablename__ = "outbox"

    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(40), unique=True)
    topic: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(200))
    event_type: Mapped[str] = mapped_column(String(200))
    headers: Mapped[list[list[str]]] = mapped_column(JSONB)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    kafka_partition: Mapped[int | None] = mapped_column(Integer)
    kafka_offset: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_outbox_unsent", "seq", postgresql_where=text("sent_at IS NULL")),
        Index("ix_outbox_sent_at", "sent_at"),
    )


def add_event(
    session: AsyncSession,
    topic: str,
    payload: EventPayload,
    *,
    key: str,
    source: str,
    subject: str | None = None,
    event_id: str | None = None,
    traceparent: str | None = None,
) -> Envelope:
    """Stage one outgoing event in the caller's transaction (the caller commits). The event carries the
    current trace (or ``traceparent``, for work done on behalf of another request)."""
    headers, value, envelope = encode_event(
        payload,
        source=source,
        subject=subject or key,
        event_id=event_id,
        traceparent=traceparent or current_traceparent(),
    )
    session.add(
        OutboxRow(
            event_id=envelope.id,
            topic=topic,
            key=key,
            event_type=envelope.type,
            headers=[[k, v.decode()] for k, v in headers],
            payload=value,
        )
    )
    return envelope


_SELECT_UNSENT = text(
    "SELECT seq, topic, key, headers, payload FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT :limit"
)
_MARK_SENT = text(
    "UPDATE outbox SET sent_at = now(), kafka_partition = v.p, kafka_offset = v.o "
    "FROM unnest(CAST(:seqs AS bigint[]), CAST(:parts AS int[]), CAST(:offs AS bigint[])) AS v(s, p, o) "
    "WHERE outbox.seq = v.s"
)
_KNOWN_CLUSTER = text("SELECT cluster_id FROM broker_state WHERE id = 1 FOR UPDATE")
_SET_CLUSTER = text(
    "INSERT INTO broker_state (id, cluster_id) VALUES (1, :cluster) "
    "ON CONFLICT (id) DO UPDATE SET cluster_id = EXCLUDED.cluster_id, seen_at = now()"
)
_MARK_ALL_UNSENT = text(
    "UPDATE outbox SET sent_at = NULL, kafka_partition = NULL, kafka_offset = NULL WHERE sent_at IS NOT NULL"
)
_PURGE = text("DELETE FROM outbox WHERE sent_at < now() - make_interval(secs => :secs)")
_PURGE_PROCESSED = text("DELETE FROM processed_events WHERE processed_at < now() - make_interval(secs => :secs)")


class OutboxRelay:
    """Publishes one service's outbox. One active relay per schema (a Postgres advisory lock)."""

    def __init__(self, settings: Settings, engine: AsyncEngine, producer: AIOKafkaProducer, service: str) -> None:
        self.settings = settings
        self.engine = engine
        self.producer = producer
        self.service = service
        self._wake = asyncio.Event()
        self._stopping = False
        self._cluster = ClusterIdentity(settings)
        self._backoff = Backoff(initial=0.2, cap=5.0)
        self._ensured: set[str] = set()
        self.broker_losses = 0
        self.status = "starting"

    def wake(self) -> None:
        """Called after a commit that added outbox rows, to publish without waiting for the poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    @property
    def healthy(self) -> bool:
        return not self.status.startswith("fault")

    async def run(self) -> None:
        """Publish until stopped. Any failure (database or broker away) backs off and starts over, taking the
        advisory lock again: a database restart drops the lock with the connection that held it."""
        while not self._stopping:
            try:
                await self._run_holding_lock()
            except Exception as exc:
                if not is_infrastructure_error(exc):
                    log.exception("outbox relay failed; restarting", service=self.service)
                await self._fault(exc)
            finally:
                await self._cluster.close()

    async def _run_holding_lock(self) -> None:
        lock_key = zlib.crc32(f"linkage-outbox-{self.service}".encode())
        async with self.engine.connect() as lock_conn:
            while not self._stopping:
                got = (await lock_conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": lock_key})).scalar()
                await lock_conn.commit()
                if got:
                    break
                self.status = "standby"  # another replica publishes this schema
                await self._sleep(1.0)
            if self._stopping:
                return
            log.info("outbox relay active", service=self.service)
            await self._loop(lock_conn)

    async def _fault(self, exc: BaseException) -> None:
        self.status = f"fault: {exc!r}"[:300]
        delay = self._backoff.next_delay()
        log.warning(
            "outbox relay: infrastructure unavailable, will retry",
            service=self.service,
            error=repr(exc)[:300],
            delay_s=delay,
        )
        await self._sleep(delay)

    async def _loop(self, lock_conn: AsyncConnection) -> None:
        loop = asyncio.get_running_loop()
        next_check = loop.time()
        next_purge = loop.time() + 60
        while not self._stopping:
            try:
                if loop.time() >= next_check:
                    next_check = loop.time() + self.settings.outbox_broker_check_interval_s
                    await self.check_broker()
                if loop.time() >= next_purge:
                    next_purge = loop.time() + 60
                    await self.purge()
                sent = await self.publish_batch()
                mark_success(self.service, "outbox-relay")
            except Exception as exc:
                if not await _connection_alive(lock_conn):
                    raise  # the database went away: take the lock again once it is back
                if not is_infrastructure_error(exc):
                    log.exception("outbox relay: unexpected error", service=self.service)
                self._ensured.clear()
                await self._fault(exc)
                continue
            if self.status != "ok":
                log.info("outbox relay healthy", service=self.service, previous=self.status)
                self.status = "ok"
                self._backoff.reset()
            if sent < self.settings.outbox_batch_size:
                await self._sleep(self.settings.outbox_poll_interval_s)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        self._wake.clear()

    async def _ensure_topics_of(self, topics: set[str]) -> None:
        """Create missing topics before publishing (dead-letter topics have one partition)."""
        missing = sorted(topics - self._ensured)
        if not missing:
            return
        names = [self.settings.topic(t) for t in missing]
        main = [n for n in names if ".dlq." not in n]
        dlq = [n for n in names if ".dlq." in n]
        if main:
            await ensure_topics(self.settings, main, exact=True)
        if dlq:
            await ensure_topics(self.settings, dlq, partitions=1, exact=True)
        self._ensured.update(missing)

    async def publish_batch(self) -> int:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(_SELECT_UNSENT, {"limit": self.settings.outbox_batch_size})).all()
            await conn.commit()
        PENDING.labels(self.service).set(len(rows))
        if not rows:
            return 0
        await self._ensure_topics_of({row[1] for row in rows})
        futures = []
        for seq, topic, key, headers, payload in rows:
            with publish_context([(k, v.encode()) for k, v in headers]) as record_headers:  # in the row's trace
                fut = await self.producer.send(
                    self.settings.topic(topic),
                    value=bytes(payload),
                    key=key.encode(),
                    headers=record_headers,
                )
            futures.append((seq, topic, fut))
        seqs, parts, offs = [], [], []
        for seq, topic, fut in futures:
            meta = await fut
            seqs.append(seq)
            parts.append(meta.partition)
            offs.append(meta.offset)
            PUBLISHED.labels(self.service, topic).inc()
        async with self.engine.begin() as conn:
            await conn.execute(_MARK_SENT, {"seqs": seqs, "parts": parts, "offs": offs})
        return len(rows)

    async def check_broker(self) -> bool:
        """If the broker is not the one we published to (its topics are gone), re-publish the retained outbox."""
        current = await self._cluster.cluster_id()
        if current is None:
            return False
        async with self.engine.begin() as conn:
            known = (await conn.execute(_KNOWN_CLUSTER)).scalar_one_or_none()
            if known == current:
                return False
            await conn.execute(_SET_CLUSTER, {"cluster": current})
            if known is None:
                return False
            self._ensured.clear()
            await ensure_topics(self.settings)
            result = await conn.execute(_MARK_ALL_UNSENT)
        REPUBLISHED.labels(self.service).inc()
        self.broker_losses += 1
        log.warning(
            "broker changed (its topics were lost); re-publishing the retained outbox",
            service=self.service,
            rows=result.rowcount,
            previous=known,
            current=current,
        )
        return True

    async def purge(self) -> int:
        """Drop sent outbox rows past their retention, and tracking records past theirs (kept longer, so
        anything the outbox can still re-publish is still recognised as processed)."""
        async with self.engine.begin() as conn:
            result = await conn.execute(_PURGE, {"secs": self.settings.outbox_retention_hours * 3600})
            await conn.execute(_PURGE_PROCESSED, {"secs": self.settings.processed_retention_hours * 3600})
        return int(result.rowcount or 0)


async def _connection_alive(conn: AsyncConnection) -> bool:
    try:
        await asyncio.wait_for(conn.execute(text("SELECT 1")), timeout=5)
        await conn.commit()
    except Exception:  # noqa: BLE001 - any failure means: reconnect
        return False
    return True
