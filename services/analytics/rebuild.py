"""``linkage analytics rebuild``: replay the consumed topics from the beginning into fresh projections.

Every projection of :func:`services.analytics.consumers.projections` is rebuilt: the case stream's (consumer group
``analytics``) and the patrol tasks' (``analytics-patrol``).

1. A scratch schema ``analytics_rebuild`` gets empty copies of the projection tables and of ``processed_events``
   (``CREATE TABLE … (LIKE analytics.… INCLUDING ALL)``: the same columns, keys and indexes).
2. A reader without a consumer group reads every partition of the topics each projection's consumer reads, from the
   first offset to the end, and applies each partition's records in batches through the consumer's own handler,
   with the same tracking records (a record seen twice is applied once; one that cannot be decoded or applied is
   skipped and counted, as the consumer would dead-letter it). A progress callback follows the records read.
3. The live tables are locked against the consumer (``processed_events`` in SHARE ROW EXCLUSIVE, the projections
   in EXCLUSIVE mode: readers go on reading) and the rebuild is brought exactly to the offsets each live consumer
   group has committed, so both have applied the same records. Every projection table is then compared row for row
   (``EXCEPT ALL`` both ways; the ticker keeps the newest 500 events by arrival and is not compared). Unless
   ``--check``, the live projections are replaced by the rebuilt ones and the rebuilt tracking records are added to
   the live ones, in the same transaction: the consumer, when it resumes, skips what the rebuild already applied.
   (When the live consumer is behind the rebuild, or its offsets are unknown, the rebuild takes everything there is,
   nothing is compared, and the swap is just as safe.) Source data (逆向评价) is not touched.
4. The scratch schema is dropped (``--keep`` leaves it for inspection).

A topic whose log no longer starts at offset 0 (retention deleted its oldest records) cannot be rebuilt from the
beginning: the command says so and replaces nothing unless ``--force``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from services.analytics.consumers import Projection, projections
from shared.consumer import ConsumedEvent, claim_events, claim_fresh
from shared.db import make_engine, make_sessionmaker
from shared.events import EventDecodeError, decode_message
from shared.faults import is_infrastructure_error
from shared.logging import get_logger
from shared.settings import Settings

log = get_logger(__name__)

LIVE_SCHEMA = "analytics"
REBUILD_SCHEMA = "analytics_rebuild"
TRACKING_TABLE = "processed_events"
NOT_COMPARED = frozenset({"ticker_events"})  # keeps the newest rows by arrival order, which a replay reorders

Progress = Callable[[int, int], None]
"""Called with (records read so far, records to read)."""


@dataclass
class TableCheck:
    table: str
    live_rows: int
    rebuilt_rows: int
    only_live: int | None = None
    only_rebuilt: int | None = None

    @property
    def equal(self) -> bool | None:
        if self.only_live is None or self.only_rebuilt is None:
            return None
        return self.only_live == 0 and self.only_rebuilt == 0


@dataclass
class RebuildResult:
    records: int = 0
    applied: int = 0
    duplicates: int = 0
    skipped: int = 0
    truncated: list[str] = field(default_factory=list)
    in_sync: bool = False
    behind: int | None = None
    tables: list[TableCheck] = field(default_factory=list)
    swapped: bool = False
    seconds: float = 0.0

    @property
    def compared(self) -> bool:
        return any(t.equal is not None for t in self.tables)

    @property
    def equal(self) -> bool | None:
        """True when every compared table is equal; None when nothing could be compared."""
        checks = [t.equal for t in self.tables if t.equal is not None]
        return all(checks) if checks else None


class _Reader:
    """Every partition of the topics, read from the first offset, without a consumer group.

    The end of a partition is the larger of the broker's end offset (``ListOffsets``) and the high watermark of the
    last fetch response: the embedded broker answers ``ListOffsets`` with an offset short of the last batch."""

    def __init__(self, settings: Settings, topics: Sequence[str]) -> None:
        self.settings = settings
        self.topics = [settings.topic(t) for t in topics]
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=settings.consumer_max_fetch_bytes,
            fetch_max_bytes=settings.consumer_max_fetch_bytes,
        )
        self.partitions: list[TopicPartition] = []
        self.beginning: dict[TopicPartition, int] = {}

    async def start(self) -> None:
        await self.consumer.start()
        available = await self.consumer.topics()
        for topic in self.topics:
            if topic not in available:
                continue
            for p in sorted(self.consumer.partitions_for_topic(topic) or ()):
                self.partitions.append(TopicPartition(topic, p))
        if self.partitions:
            self.consumer.assign(self.partitions)
            self.beginning = await self.consumer.beginning_offsets(self.partitions)
            await self.consumer.seek_to_beginning(*self.partitions)

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.consumer.stop()

    async def ends(self) -> dict[TopicPartition, int]:
        """The best known end of every partition (see the class docstring)."""
        if not self.partitions:
            return {}
        listed: dict[TopicPartition, int] = await self.consumer.end_offsets(self.partitions)
        return {tp: max(listed.get(tp, 0), self.consumer.highwater(tp) or 0) for tp in self.partitions}

    async def positions(self) -> dict[TopicPartition, int]:
        return {tp: await self.consumer.position(tp) for tp in self.partitions}

    def total(self, ends: dict[TopicPartition, int]) -> int:
        return sum(max(0, end - self.beginning.get(tp, 0)) for tp, end in ends.items())

    async def _poll(
        self,
        apply: Callable[[list[ConsumerRecord]], Awaitable[None]],
        stop_at: dict[TopicPartition, int] | None,
        batch: int,
    ) -> int:
        fetched = await self.consumer.getmany(timeout_ms=500, max_records=batch)
        count = 0
        for tp, records in fetched.items():
            limit = stop_at.get(tp) if stop_at is not None else None
            wanted = records if limit is None else [r for r in records if r.offset < limit]
            if wanted:
                await apply(wanted)
                count += len(wanted)
            if len(wanted) < len(records):  # read past the stop: come back to it later
                self.consumer.seek(tp, wanted[-1].offset + 1 if wanted else records[0].offset)
        return count

    async def read_to_end(self, apply: Callable[[list[ConsumerRecord]], Awaitable[None]], *, batch: int) -> None:
        """Everything the partitions hold now: until every position reaches the end and a poll brings nothing new,
        or every position reaches the high watermark of the last fetch (records keep arriving on a live system)."""
        if not self.partitions:  # the topic does not exist (yet): nothing to read (getmany would wait for ever)
            return
        target = await self.ends()
        while True:
            got = await self._poll(apply, None, batch)
            positions = await self.positions()
            reached = all(positions[tp] >= target.get(tp, 0) for tp in self.partitions)
            caught_up = all(positions[tp] >= (self.consumer.highwater(tp) or 0) for tp in self.partitions)
            if reached and (got == 0 or caught_up):
                return

    async def read_until(
        self,
        stop_at: dict[TopicPartition, int],
        apply: Callable[[list[ConsumerRecord]], Awaitable[None]],
        *,
        batch: int,
    ) -> None:
        """Every record before ``stop_at`` (a partition already past it stays where it is)."""
        if not self.partitions:
            return
        while True:
            positions = await self.positions()
            if all(positions.get(tp, 0) >= end for tp, end in stop_at.items()):
                return
            await self._poll(apply, stop_at, batch)


class _Applier:
    """Applies records to the rebuild schema the way a projection's consumer applies them to the live one."""

    def __init__(
        self,
        settings: Settings,
        projection: Projection,
        maker: async_sessionmaker[AsyncSession],
        result: RebuildResult,
        progress: _Counter,
    ) -> None:
        self.group = settings.group(projection.group)
        self.handler = projection.handler
        self.maker = maker
        self.result = result
        self.counter = progress

    async def __call__(self, records: list[ConsumerRecord]) -> None:
        events: list[ConsumedEvent] = []
        for record in records:
            try:
                envelope = decode_message(record.headers, record.value)
                payload = envelope.payload()
            except EventDecodeError:
                self.result.skipped += 1
                continue
            key = record.key.decode("utf-8", "replace") if record.key else None
            events.append(ConsumedEvent(envelope, payload, record.topic, record.partition, record.offset, key))
        self.result.records += len(records)
        if events:
            try:
                await self._apply(events)
            except Exception as exc:
                if is_infrastructure_error(exc):
                    raise
                for event in events:  # isolate the poison, as the consumer does
                    try:
                        await self._apply([event])
                    except Exception as one:
                        if is_infrastructure_error(one):
                            raise
                        log.warning("rebuild: record skipped", event_id=event.id, error=repr(one)[:300])
                        self.result.skipped += 1
                        async with self.maker() as session, session.begin():
                            await claim_events(session, self.group, [event.id], outcome="dead")
        self.counter.show(self.result.records)

    async def _apply(self, events: Sequence[ConsumedEvent]) -> None:
        async with self.maker() as session, session.begin():
            fresh = await claim_fresh(session, self.group, events)
            if fresh:
                await self.handler(session, fresh)
        self.result.applied += len(fresh)
        self.result.duplicates += len(events) - len(fresh)


class _Counter:
    """Records read out of records to read, for the progress bar."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.total = 0

    def show(self, done: int) -> None:
        if self.progress is not None:
            self.progress(done, max(self.total, done))


async def _prepare(live: AsyncEngine, tables: Sequence[str]) -> None:
    async with live.begin() as conn:
        await conn.execute(text(f"DROP SCHEMA IF EXISTS {REBUILD_SCHEMA} CASCADE"))
        await conn.execute(text(f"CREATE SCHEMA {REBUILD_SCHEMA}"))
        for table in (*tables, TRACKING_TABLE):
            await conn.execute(
                text(f"CREATE TABLE {REBUILD_SCHEMA}.{table} (LIKE {LIVE_SCHEMA}.{table} INCLUDING ALL)")
            )


async def _committed(
    settings: Settings, group: str, partitions: Sequence[TopicPartition]
) -> dict[TopicPartition, int] | None:
    """A live consumer group's committed offsets (None when the broker cannot say)."""
    if not partitions:  # the topic does not exist (yet): nothing to be at
        return {}
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=10000)
    try:
        await asyncio.wait_for(admin.start(), timeout=15)
        found = await asyncio.wait_for(
            admin.list_consumer_group_offsets(settings.group(group), partitions=list(partitions)), timeout=15
        )
    except Exception as exc:  # noqa: BLE001 - the comparison is skipped, the rebuild goes on
        log.warning("rebuild: committed offsets unavailable", error=repr(exc)[:300])
        return None
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
    return {tp: (meta.offset if meta is not None and meta.offset >= 0 else 0) for tp, meta in found.items()}


def _distance(positions: dict[TopicPartition, int], committed: dict[TopicPartition, int] | None) -> int | None:
    """Records between the rebuild's positions and the live group's committed offsets (None: unknown)."""
    if committed is None:
        return None
    return sum(abs(pos - committed.get(tp, 0)) for tp, pos in positions.items())


async def _compare(conn: AsyncConnection, tables: Sequence[str], *, compare: bool) -> list[TableCheck]:
    """Row counts of both schemas, and with ``compare`` the rows only one of them has (``EXCEPT ALL``)."""
    checks: list[TableCheck] = []
    for table in tables:
        live_rows = (await conn.execute(text(f"SELECT count(*) FROM {LIVE_SCHEMA}.{table}"))).scalar_one()
        rebuilt_rows = (await conn.execute(text(f"SELECT count(*) FROM {REBUILD_SCHEMA}.{table}"))).scalar_one()
        check = TableCheck(table, int(live_rows), int(rebuilt_rows))
        if compare and table not in NOT_COMPARED:
            a, b = f"{LIVE_SCHEMA}.{table}", f"{REBUILD_SCHEMA}.{table}"
            only_live = f"SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b}) d"
            only_rebuilt = f"SELECT count(*) FROM (SELECT * FROM {b} EXCEPT ALL SELECT * FROM {a}) d"
            check.only_live = int((await conn.execute(text(only_live))).scalar_one())
            check.only_rebuilt = int((await conn.execute(text(only_rebuilt))).scalar_one())
        checks.append(check)
    return checks


async def _replace(conn: AsyncConnection, tables: Sequence[str], groups: Sequence[str]) -> None:
    for table in tables:
        await conn.execute(text(f"DELETE FROM {LIVE_SCHEMA}.{table}"))
        await conn.execute(text(f"INSERT INTO {LIVE_SCHEMA}.{table} SELECT * FROM {REBUILD_SCHEMA}.{table}"))
        identity = (
            await conn.execute(
                text(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = :s AND table_name = :t AND is_identity = 'YES'"
                ),
                {"s": LIVE_SCHEMA, "t": table},
            )
        ).scalars()
        for column in list(identity):
            await conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{LIVE_SCHEMA}.{table}', '{column}'), "
                    f"coalesce((SELECT max({column}) FROM {LIVE_SCHEMA}.{table}), 0) + 1, false)"
                )
            )
    await conn.execute(
        text(
            f"INSERT INTO {LIVE_SCHEMA}.{TRACKING_TABLE} SELECT * FROM {REBUILD_SCHEMA}.{TRACKING_TABLE} "
            "WHERE consumer_group = ANY(:g) ON CONFLICT DO NOTHING"
        ),
        {"g": list(groups)},
    )


async def rebuild(
    settings: Settings,
    *,
    check_only: bool = False,
    force: bool = False,
    keep: bool = False,
    wait_s: float = 30.0,
    batch: int = 2000,
    progress: Progress | None = None,
) -> RebuildResult:
    """Rebuild every analytics projection from its topics (see the module docstring). ``check_only``: compare,
    never replace. ``wait_s``: how long to wait for the live consumers to catch up before comparing."""
    started = time.monotonic()
    result = RebuildResult()
    chosen = projections()
    tables = [t for p in chosen for t in p.tables]
    live = make_engine(settings, LIVE_SCHEMA, pool_size=2)
    scratch = make_engine(settings, REBUILD_SCHEMA, pool_size=2)
    maker = make_sessionmaker(scratch)
    counter = _Counter(progress)
    runs = [(p, _Reader(settings, p.topics), _Applier(settings, p, maker, result, counter)) for p in chosen]
    try:
        await _prepare(live, tables)
        for _, reader, _ in runs:
            await reader.start()
            result.truncated += [f"{tp.topic}[{tp.partition}]@{o}" for tp, o in reader.beginning.items() if o > 0]
            counter.total += reader.total(await reader.ends())
        counter.show(0)
        for p, reader, applier in runs:
            log.info("rebuild: replaying", group=p.group, partitions=len(reader.partitions))
            await reader.read_to_end(applier, batch=batch)
        log.info("rebuild: replayed", records=result.records, applied=result.applied)

        async def distance() -> int | None:
            """Records between the replay and the live consumer groups (None: a group's offsets are unknown)."""
            total = 0
            for p, reader, _ in runs:
                apart = _distance(await reader.positions(), await _committed(settings, p.group, reader.partitions))
                if apart is None:
                    return None
                total += apart
            return total

        # let the live consumers reach the point the replay reached before the tables are locked for the comparison
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if (await distance()) in (None, 0):
                break
            await asyncio.sleep(0.5)
        log.info("rebuild: locking the live projections")
        async with live.connect() as conn:
            trans = await conn.begin()
            try:
                await conn.execute(text(f"LOCK TABLE {LIVE_SCHEMA}.{TRACKING_TABLE} IN SHARE ROW EXCLUSIVE MODE"))
                locked = ", ".join(f"{LIVE_SCHEMA}.{t}" for t in tables)
                await conn.execute(text(f"LOCK TABLE {locked} IN EXCLUSIVE MODE"))
                # the live consumers apply nothing more now: bring the replay exactly to where each group is
                for p, reader, applier in runs:
                    committed = await _committed(settings, p.group, reader.partitions)
                    positions = await reader.positions()
                    if committed is not None and all(positions[tp] <= committed.get(tp, 0) for tp in reader.partitions):
                        to_read = sum(max(0, committed.get(tp, 0) - positions[tp]) for tp in reader.partitions)
                        counter.total = max(counter.total, result.records + to_read)
                        await reader.read_until(committed, applier, batch=batch)
                    else:  # the live consumer is behind the replay (or unknown): the replay takes everything there is
                        await reader.read_to_end(applier, batch=batch)
                log.info("rebuild: at the live consumers' offsets", records=result.records)
                result.behind = await distance()
                result.in_sync = result.behind == 0
                result.tables = await _compare(conn, tables, compare=result.in_sync)
                if check_only or (result.truncated and not force):
                    await trans.rollback()
                else:
                    await _replace(conn, tables, [settings.group(p.group) for p in chosen])
                    await trans.commit()
                    result.swapped = True
            except BaseException:
                await trans.rollback()
                raise
        if not keep:
            async with live.begin() as conn2:
                await conn2.execute(text(f"DROP SCHEMA IF EXISTS {REBUILD_SCHEMA} CASCADE"))
    finally:
        for _, reader, _ in runs:
            await reader.stop()
        await scratch.dispose()
        await live.dispose()
    result.seconds = time.monotonic() - started
    return result
