"""Dead letters: poison records kept once, in a table and on ``<topic>.dlq.<group>``.

A poison record is written to the consumer's ``dead_letters`` table and, in the same transaction, to its
outbox as a copy for the dead-letter topic (the relay publishes it). The row's natural key (group, topic,
partition, offset, sha256 of the value) makes dead-lettering idempotent: a record read again after a crash
or a rewind is recognised and not dead-lettered twice. A record too large for the dead-letter topic goes
there as a reference (headers only) while its bytes stay in the table.

``linkage dlq list`` shows them; ``linkage dlq replay`` re-drives them to their original topic.
"""

from __future__ import annotations

import hashlib
import traceback
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import ConsumerRecord
from sqlalchemy import (
    BigInteger,
    DateTime,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base
from shared.events.envelope import new_event_id
from shared.outbox import OutboxRow
from shared.settings import Settings
from shared.topics import dead_letter_topic


class DeadLetter(Base):
    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    consumer_group: Mapped[str] = mapped_column(String(200))
    topic: Mapped[str] = mapped_column(String(250))
    partition: Mapped[int] = mapped_column(Integer)
    offset: Mapped[int] = mapped_column(BigInteger)
    value_sha256: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str | None] = mapped_column(String(200))
    key: Mapped[bytes | None] = mapped_column(LargeBinary)
    headers: Mapped[list[list[str]]] = mapped_column(JSONB)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text)
    traceback: Mapped[str] = mapped_column(Text)
    inline: Mapped[bool] = mapped_column(server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    replayed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    replay_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))

    __table_args__ = (
        UniqueConstraint(
            "consumer_group", "topic", "partition", "offset", "value_sha256", name="uq_dead_letters_record"
        ),
        Index("ix_dead_letters_unreplayed", "id", postgresql_where=text("replayed_at IS NULL")),
    )


def _text_headers(headers: Any) -> list[list[str]]:
    return [[str(k), bytes(v or b"").decode("utf-8", "replace")] for k, v in headers or ()]


def _base_topic(settings: Settings, topic: str) -> str:
    """The outbox prefixes topics itself; strip the prefix the record's topic already carries."""
    prefix = settings.topic_prefix
    return topic[len(prefix) :] if prefix and topic.startswith(prefix) else topic


async def dead_letter(
    session: AsyncSession,
    settings: Settings,
    record: ConsumerRecord,
    error: BaseException,
    *,
    group: str,
    event_id: str | None,
) -> bool:
    """Store ``record`` as a dead letter of ``group``; return False when it was stored before."""
    value = bytes(record.value or b"")
    digest = hashlib.sha256(value).hexdigest()
    headers = _text_headers(record.headers)
    inline = len(value) <= settings.dlq_max_inline_bytes
    error_text = repr(error)[:2000]
    trace_text = "".join(traceback.format_exception(error))[-4000:]
    row_id = (
        await session.execute(
            insert(DeadLetter)
            .values(
                consumer_group=group,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                value_sha256=digest,
                event_id=event_id,
                key=record.key,
                headers=headers,
                value=value,
                size=len(value),
                error=error_text,
                traceback=trace_text,
                inline=inline,
            )
            .on_conflict_do_nothing(constraint="uq_dead_letters_record")
            .returning(DeadLetter.id)
        )
    ).scalar_one_or_none()
    if row_id is None:
        return False
    dlq_headers = headers + [
        ["dlq_id", str(row_id)],
        ["dlq_error", error_text],
        ["dlq_traceback", trace_text],
        ["dlq_group", group],
        ["dlq_original_topic", record.topic],
        ["dlq_original_partition", str(record.partition)],
        ["dlq_original_offset", str(record.offset)],
        ["dlq_size", str(len(value))],
        ["dlq_sha256", digest],
        ["dlq_inline", "true" if inline else "false"],
    ]
    session.add(
        OutboxRow(
            event_id=f"dlq-{new_event_id()}",
            topic=_base_topic(settings, dead_letter_topic(record.topic, group)),
            key=(record.key or b"").decode("utf-8", "replace")[:200],
            event_type="linkage.dead_letter",
            headers=dlq_headers,
            payload=value if inline else b"",
        )
    )
    await session.flush()
    return True


@dataclass(frozen=True)
class DeadLetterView:
    id: int
    consumer_group: str
    topic: str
    partition: int
    offset: int
    event_id: str | None
    size: int
    inline: bool
    error: str
    created_at: datetime
    replayed_at: datetime | None
    replay_count: int


async def list_dead_letters(
    session: AsyncSession, *, include_replayed: bool = False, limit: int = 200
) -> list[DeadLetterView]:
    stmt = text(
        'SELECT id, consumer_group, topic, partition, "offset", event_id, size, inline, error, created_at, '
        "replayed_at, replay_count FROM dead_letters "
        + ("" if include_replayed else "WHERE replayed_at IS NULL ")
        + "ORDER BY id LIMIT :limit"
    )
    rows = (await session.execute(stmt, {"limit": limit})).all()
    return [DeadLetterView(*row) for row in rows]


async def claim_for_replay(session: AsyncSession, ids: list[int] | None) -> list[DeadLetter]:
    """Mark dead letters replayed and forget their 'dead' tracking records, so the re-driven record is
    applied instead of skipped as already processed. The caller commits, then publishes."""
    stmt = text(
        "UPDATE dead_letters SET replayed_at = now(), replay_count = replay_count + 1 "
        "WHERE replayed_at IS NULL AND (CAST(:ids AS bigint[]) IS NULL OR id = ANY(CAST(:ids AS bigint[]))) "
        "RETURNING id"
    )
    claimed = [row[0] for row in await session.execute(stmt, {"ids": ids})]
    if not claimed:
        return []
    letters = list(
        (await session.execute(DeadLetter.__table__.select().where(DeadLetter.id.in_(claimed)).order_by(DeadLetter.id)))
        .mappings()
        .all()
    )
    result = [DeadLetter(**dict(row)) for row in letters]
    await session.execute(
        text(
            "DELETE FROM processed_events p USING dead_letters d WHERE d.id = ANY(CAST(:ids AS bigint[])) "
            "AND p.consumer_group = d.consumer_group AND p.event_id = d.event_id AND p.outcome = 'dead'"
        ),
        {"ids": claimed},
    )
    return result


async def unclaim_replay(session: AsyncSession, ids: list[int]) -> None:
    """Undo ``claim_for_replay`` for letters that could not be published."""
    await session.execute(
        text("UPDATE dead_letters SET replayed_at = NULL WHERE id = ANY(CAST(:ids AS bigint[]))"), {"ids": ids}
    )
