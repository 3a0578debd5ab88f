"""回访: satisfied closes, unsatisfied reopens once then supervises and closes, silence closes as 未评价."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.case import flows
from services.dispatch.case.models import Case
from services.dispatch.sla.service import fire_due_timers, schedule_survey_timer, timers_for
from services.dispatch.survey.service import answers_for, record_answer
from shared.events.feedback import SurveyAnsweredV1
from tests.db import sessions_fixture
from tests.integration.dispatch_factory import add_cases, new_case

pytestmark = pytest.mark.asyncio(loop_scope="session")


maker = sessions_fixture("dispatch")


def _answer(case: Case, result: str) -> SurveyAnsweredV1:
    return SurveyAnsweredV1(
        case_id=case.id,
        tracking_code=case.tracking_code,
        result=result,  # type: ignore[arg-type]
        answered_at=dt.datetime.now(dt.UTC),
    )


async def _replied_case(maker: async_sessionmaker[AsyncSession]) -> Case:
    async with maker() as session, session.begin():
        (case,) = await add_cases(session, [new_case(state="replied")])
    return case


async def _state(maker: async_sessionmaker[AsyncSession], case_id: str) -> Case:
    async with maker() as session:
        case = await session.get(Case, case_id)
        assert case is not None
        return case


async def test_satisfied_closes(maker: async_sessionmaker[AsyncSession]) -> None:
    case = await _replied_case(maker)
    async with maker() as session, session.begin():
        assert await record_answer(session, _answer(case, "基本满意")) == "closed"
    after = await _state(maker, case.id)
    assert (after.state, after.survey_result) == ("closed", "基本满意")


async def test_unsatisfied_reopens_once_then_supervises_and_closes(maker: async_sessionmaker[AsyncSession]) -> None:
    case = await _replied_case(maker)
    async with maker() as session, session.begin():
        assert await record_answer(session, _answer(case, "不满意")) == "reopened"
    reopened = await _state(maker, case.id)
    assert (reopened.state, reopened.reopen_count) == ("signed", 1)
    async with maker() as session, session.begin():
        c = await session.get(Case, case.id)
        assert c is not None
        await flows.transition(session, c, "reply", actor="handler:ZJJ", text="已重新更换井盖")
    async with maker() as session, session.begin():
        assert await record_answer(session, _answer(case, "不满意")) == "supervised"
        # a late answer for a closed case is recorded, not applied
        assert await record_answer(session, _answer(case, "满意")) == "ignored"
    closed = await _state(maker, case.id)
    assert (closed.state, closed.survey_result) == ("closed", "不满意")
    async with maker() as session:
        assert [a.outcome for a in await answers_for(session, case.id)] == ["reopened", "supervised", "ignored"]
        actions = (
            (
                await session.execute(
                    text("SELECT action FROM case_history WHERE case_id = :c ORDER BY seq"), {"c": case.id}
                )
            )
            .scalars()
            .all()
        )
    assert actions == ["surveyed", "reopened", "replied", "surveyed", "supervised", "closed"]


async def test_no_answer_in_three_working_days_closes_as_unrated(maker: async_sessionmaker[AsyncSession]) -> None:
    case = await _replied_case(maker)
    async with maker() as session, session.begin():
        c = await session.get(Case, case.id)
        assert c is not None
        due = await schedule_survey_timer(session, c, replied_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=10))
        assert due < dt.datetime.now(dt.UTC)
    for _ in range(20):
        await fire_due_timers(maker, limit=200)
        if (await _state(maker, case.id)).state == "closed":
            break
        await asyncio.sleep(0.1)
    after = await _state(maker, case.id)
    assert (after.state, after.survey_result) == ("closed", "未评价")
    async with maker() as session:
        assert [(t.kind, t.outcome) for t in await timers_for(session, case.id)] == [("survey_due", "fired")]
