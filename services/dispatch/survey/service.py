"""回访评价: survey answers from ``linkage.feedback.v1`` drive the end of the closed loop.

满意 / 基本满意 → close; 不满意 → reopen once (重办), a second 不满意 → supervise (督办) and close as
不满意; no answer within 3 working days after 办结 → the ``survey_due`` timer closes it as 未评价.
The case transitions are the core's (``flows.apply_survey``); this module records each answer and
what it led to, and ignores (records, does not fail on) answers for cases no longer awaiting one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.case import flows
from services.dispatch.case.models import Case
from services.dispatch.survey.models import CaseSurvey
from shared.consumer import ConsumedEvent
from shared.events.feedback import SurveyAnsweredV1
from shared.logging import get_logger

log = get_logger(__name__)

AWAITING_SURVEY = frozenset({"replied", "verified"})


async def _load_case(session: AsyncSession, answer: SurveyAnsweredV1) -> Case | None:
    stmt = select(Case).where(Case.id == answer.case_id).with_for_update()
    case = (await session.execute(stmt)).scalar_one_or_none()
    if case is None and answer.tracking_code:
        stmt = select(Case).where(Case.tracking_code == answer.tracking_code).with_for_update()
        case = (await session.execute(stmt)).scalar_one_or_none()
    return case


async def record_answer(
    session: AsyncSession, answer: SurveyAnsweredV1, *, event_id: str | None = None, now: datetime | None = None
) -> str:
    """Apply one survey answer; return the outcome: closed | reopened | supervised | ignored."""
    now = now or datetime.now(UTC)
    case = await _load_case(session, answer)
    outcome = "ignored"
    if case is not None and case.state in AWAITING_SURVEY:
        entries = await flows.apply_survey(
            session,
            case,
            answer.result,
            actor=f"citizen:{answer.channel}",
            comment=answer.comment,
            solved=answer.solved,
            now=now,
        )
        actions = [e.action for e in entries]
        outcome = "supervised" if "supervised" in actions else "reopened" if "reopened" in actions else "closed"
    else:
        log.info(
            "survey answer ignored: case not awaiting a survey",
            case_id=answer.case_id,
            state=case.state if case else None,
            result=answer.result,
        )
    session.add(
        CaseSurvey(
            case_id=case.id if case else answer.case_id,
            event_id=event_id,
            result=answer.result,
            channel=answer.channel,
            answered_at=answer.answered_at,
            outcome=outcome,
            comment=(answer.comment or None) and answer.comment[:1000],
        )
    )
    await session.flush()
    return outcome


async def handle_feedback(session: AsyncSession, events: Sequence[ConsumedEvent]) -> None:
    """ConsumerSpec handler (group ``dispatch-feedback``, topic ``linkage.feedback.v1``)."""
    for event in events:
        if isinstance(event.payload, SurveyAnsweredV1):
            await record_answer(session, event.payload, event_id=event.id)


async def answers_for(session: AsyncSession, case_id: str) -> list[CaseSurvey]:
    stmt = select(CaseSurvey).where(CaseSurvey.case_id == case_id).order_by(CaseSurvey.id)
    return list((await session.execute(stmt)).scalars())
