"""flows.transition against real PostgreSQL: row, hash-chained history and outbox event in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.dispatch.audit import verify_all
from services.dispatch.case import flows
from services.dispatch.case.models import Case, CaseHistory
from services.dispatch.opening import open_cases
from shared.db import make_engine, make_sessionmaker
from shared.events.complaints import CategorySuggestion, ComplaintReceivedV1, EmergencyFlag, PlaceRef
from shared.outbox import OutboxRow
from shared.settings import Settings


@pytest_asyncio.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(settings, "dispatch", pool_size=2)
    yield engine
    await engine.dispose()


def complaint(**overrides: object) -> ComplaintReceivedV1:
    uid = uuid.uuid4().hex[:20].upper()
    values: dict[str, object] = {
        "complaint_id": uid,
        "tracking_code": f"T{uid[:12]}",
        "channel": "hotline",
        "channel_key": uid,
        "kind": "投诉",
        "text": "小区门口每天早上都有人摆摊卖菜，人行道都走不通了",
        "place": PlaceRef(street_code="S03", grid_code=f"G{uid[:8]}"),  # apart: no duplicate merging
        "matter_code": "CG001",
        "received_at": datetime(2026, 9, 29, 2, 0, tzinfo=UTC),
    }
    values.update(overrides)
    return ComplaintReceivedV1(**values)  # type: ignore[arg-type]


async def _open(session: AsyncSession, event: ComplaintReceivedV1) -> Case:
    cases = await open_cases(session, [event])
    await session.commit()
    assert len(cases) == 1
    return cases[0]


async def _history(session: AsyncSession, case_id: str) -> list[CaseHistory]:
    rows = await session.execute(select(CaseHistory).where(CaseHistory.case_id == case_id).order_by(CaseHistory.seq))
    return list(rows.scalars())


async def _events(session: AsyncSession, case_id: str) -> list[str]:
    rows = await session.execute(select(OutboxRow.event_type).where(OutboxRow.key == case_id).order_by(OutboxRow.seq))
    return list(rows.scalars())


@pytest.mark.asyncio
async def test_routing_dispatches_to_territorial_lead_with_deadlines(engine: AsyncEngine) -> None:
    async with make_sessionmaker(engine)() as session:
        case = await _open(session, complaint())
        assert case.state == "dispatched"
        assert case.lead == "S03" and case.co_handlers == ["CGJ"]
        # received Tue 2026-09-29 10:00 Shanghai; 5 working days (CG001 投诉) jump the National Day week
        cal = flows.default_calendar()
        assert case.deadline_at == cal.working_deadline(case.received_at, 5)
        assert case.deadline_at.astimezone(flows.SHANGHAI).date().isoformat() > "2026-10-08"
        assert case.deadline_limit == "5个工作日"
        assert case.sign_deadline_at is not None and case.return_deadline_at is not None
        assert [h.action for h in await _history(session, case.id)] == ["created", "dispatched"]
        assert await _events(session, case.id) == ["cn.linkage.case.created.v1", "cn.linkage.case.dispatched.v1"]


@pytest.mark.asyncio
async def test_emergency_is_transferred_and_consult_is_answered(engine: AsyncEngine) -> None:
    async with make_sessionmaker(engine)() as session:
        fire = await _open(session, complaint(emergency=EmergencyFlag(service="119", reason="起火")))
        assert fire.state == "transferred" and fire.lead is None
        zx = next(m for m in flows.default_catalog().matters if m.category == "ZX")
        consult = await _open(session, complaint(kind="咨询", matter_code=zx.code, text="怎么办居住证"))
        assert consult.state == "closed"
        assert [h.action for h in await _history(session, consult.id)] == ["created", "answered", "closed"]
        unsure = await _open(
            session,
            complaint(
                matter_code=None, suggestions=[CategorySuggestion(category="CG", matter_code="CG001", confidence=0.3)]
            ),
        )
        assert unsure.state == "triage"


@pytest.mark.asyncio
async def test_transition_writes_row_history_and_event_atomically(engine: AsyncEngine) -> None:
    maker = make_sessionmaker(engine)
    async with maker() as session:
        case = await _open(session, complaint())
        case_id = case.id
        await flows.transition(session, case, "sign", actor="handler:S03")
        await session.commit()
        version = case.version
        # a failing transaction leaves nothing behind
        await flows.transition(session, case, "progress", actor="handler:S03", note="已到现场")
        await session.rollback()
    async with maker() as session:
        fresh = await session.get(Case, case_id)
        assert fresh is not None and fresh.state == "signed" and fresh.version == version
        assert [h.action for h in await _history(session, case_id)][-1] == "signed"
        assert (await _events(session, case_id))[-1] == "cn.linkage.case.signed.v1"
        with pytest.raises(flows.IllegalTransitionError) as err:
            await flows.transition(session, fresh, "close", actor="dispatcher")
        body = err.value.to_body()
        assert body["error"] == "illegal_transition" and body["state"] == "signed"
        assert "reply" in body["allowed_actions"]


@pytest.mark.asyncio
async def test_stale_version_is_a_conflict(engine: AsyncEngine) -> None:
    maker = make_sessionmaker(engine)
    async with maker() as one, maker() as two:
        case = await _open(one, complaint())
        same = await two.get(Case, case.id)
        assert same is not None
        await flows.transition(one, case, "sign", actor="a")
        await one.commit()
        with pytest.raises(flows.ConcurrentUpdate):
            await flows.transition(two, same, "suspend", actor="b", reason="等待")


@pytest.mark.asyncio
async def test_full_loop_suspend_extension_survey_and_merge(engine: AsyncEngine) -> None:
    maker = make_sessionmaker(engine)
    async with maker() as session:
        case = await _open(session, complaint())
        t = flows.transition
        await t(session, case, "sign", actor="S03")
        before = case.deadline_at
        assert before is not None
        await t(session, case, "request_extension", actor="S03", reason="需要协调", days=3)
        await t(session, case, "approve_extension", actor="dispatcher")
        assert case.deadline_at is not None and case.deadline_at > before
        with pytest.raises(flows.IllegalTransitionError):
            await t(session, case, "request_extension", actor="S03", reason="again", days=1)
        suspended_at = datetime(2026, 10, 12, 2, tzinfo=UTC)
        await t(session, case, "suspend", actor="dispatcher", reason="等待市民补充材料", now=suspended_at)
        deadline = case.deadline_at
        await t(session, case, "resume", actor="dispatcher", now=datetime(2026, 10, 14, 2, tzinfo=UTC))
        assert case.state == "signed"
        assert case.deadline_at is not None and deadline is not None
        assert (
            flows.default_calendar().working_days_between(
                deadline.astimezone(flows.SHANGHAI).date(), case.deadline_at.astimezone(flows.SHANGHAI).date()
            )
            == 2
        )
        await t(session, case, "reply", actor="S03", text="已清理")
        await flows.apply_survey(session, case, "不满意")
        assert case.state == "signed" and case.reopen_count == 1
        await t(session, case, "reply", actor="S03", text="再次清理")
        await flows.apply_survey(session, case, "不满意")
        assert case.state == "closed"
        actions = [h.action for h in await _history(session, case.id)]
        assert actions[-3:] == ["surveyed", "supervised", "closed"]

        master = await _open(session, complaint())
        follower = await _open(session, complaint())
        await t(session, follower, "merge", actor="dispatcher", master_id=master.id)
        await t(session, master, "sign", actor="S03")
        await t(session, master, "whistle", actor="S03", departments=["CGJ", "SJJ"])
        assert "SJJ" in master.co_handlers
        await t(session, master, "report", actor="SJJ", department="SJJ")
        with pytest.raises(flows.IllegalTransitionError):
            await t(session, master, "report", actor="SJJ", department="SJJ")
        await t(session, master, "reply", actor="S03", text="done")
        await flows.apply_survey(session, master, "满意")
        await session.commit()
        await session.refresh(follower)
        assert follower.state == "closed"


@pytest.mark.asyncio
async def test_audit_verify_detects_an_edited_and_a_deleted_row(engine: AsyncEngine, settings: Settings) -> None:
    maker = make_sessionmaker(engine)
    async with maker() as session:
        case = await _open(session, complaint())
        await flows.transition(session, case, "sign", actor="S03")
        await flows.transition(session, case, "return", actor="S03", reason="不属于本单位职责")
        await session.commit()
    assert not [p for p in await verify_all(settings) if p.case_id == case.id]
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE case_history SET reason = 'edited' WHERE case_id = :c AND seq = 3"), {"c": case.id}
        )
    problems = [p for p in await verify_all(settings) if p.case_id == case.id]
    assert problems and problems[0].seq == 3 and "edited" in problems[0].problem
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM case_history WHERE case_id = :c AND seq = 2"), {"c": case.id})
    problems = [p for p in await verify_all(settings) if p.case_id == case.id]
    assert any(p.seq == 2 and "missing" in p.problem for p in problems)
