"""Group commit: concurrent callers share transactions; every answer comes after a durable commit."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.complaint.schemas import ComplaintDraft
from services.intake.complaint.service import create_complaints
from shared.db import make_engine, make_sessionmaker
from shared.events.complaints import Reporter
from shared.group_commit import GroupCommitter
from shared.settings import Settings


def draft(key: str, text_: str = "路灯不亮") -> ComplaintDraft:
    return ComplaintDraft(
        channel="hotline",
        channel_key=key,
        text=text_,
        kind="投诉",
        matter_code="SZ003",
        reporter=Reporter(phone="13900000000"),
    )


async def test_concurrent_submissions_share_transactions_and_stay_idempotent(settings: Settings) -> None:
    engine = make_engine(settings, "intake")
    maker = make_sessionmaker(engine)
    batches: list[int] = []

    async def apply(session: AsyncSession, drafts: Sequence[ComplaintDraft]):
        batches.append(len(drafts))
        return await create_complaints(session, drafts)

    writer = GroupCommitter("test", maker, apply, writers=1)
    task = asyncio.create_task(writer.run())
    tag = uuid.uuid4().hex[:8]
    keys = [f"{tag}-{i % 150}" for i in range(200)]  # 50 repeats of earlier keys
    results = await asyncio.gather(*(writer.submit(draft(k)) for k in keys))
    task.cancel()

    assert max(batches) > 1, "concurrent callers were batched"
    assert sum(1 for _, created in results if created) == 150
    by_key: dict[str, str] = {}
    for key, (complaint, _) in zip(keys, results, strict=True):
        assert by_key.setdefault(key, complaint.id) == complaint.id, "same key → same complaint"
    async with maker() as s:
        stored = (
            await s.execute(text("SELECT count(*) FROM complaints WHERE channel_key LIKE :p"), {"p": f"{tag}-%"})
        ).scalar_one()
        events = (
            await s.execute(
                text("SELECT count(*) FROM outbox o JOIN complaints c ON o.key = c.id WHERE c.channel_key LIKE :p"),
                {"p": f"{tag}-%"},
            )
        ).scalar_one()
    assert (stored, events) == (150, 150), "one row and one event per key, all committed before the answers"
    await engine.dispose()


async def test_a_failing_item_fails_alone(settings: Settings) -> None:
    engine = make_engine(settings, "intake")
    maker = make_sessionmaker(engine)

    async def apply(session: AsyncSession, drafts: Sequence[ComplaintDraft]):
        if any(d.text == "boom" for d in drafts):
            raise ValueError("boom")
        return await create_complaints(session, drafts)

    writer = GroupCommitter("test", maker, apply, writers=1)
    task = asyncio.create_task(writer.run())
    tag = uuid.uuid4().hex[:8]
    outcomes = await asyncio.gather(
        *(writer.submit(draft(f"{tag}-{i}", "boom" if i == 7 else "路灯不亮")) for i in range(20)),
        return_exceptions=True,
    )
    task.cancel()
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(failures) == 1 and str(failures[0]) == "boom"
    async with maker() as s:
        stored = (
            await s.execute(text("SELECT count(*) FROM complaints WHERE channel_key LIKE :p"), {"p": f"{tag}-%"})
        ).scalar_one()
    assert stored == 19
    await engine.dispose()
