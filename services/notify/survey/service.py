"""Survey answers in (回访评价): check the round's token, validate against notify's own view of the case,
store, publish.

Every answer comes with the round's credential (:mod:`.tokens`): the token from the link, or a signed SMS
gateway callback that names the phone the survey was sent to. An accepted answer uses the token, is stored
(one per case and survey round: a reopened and re-replied case is asked again) and staged as
``SurveyAnsweredV1`` on ``linkage.feedback.v1`` (key: case id) in the same transaction; dispatch's
``dispatch-feedback`` consumer then closes or reopens the case.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from ulid import ULID

from services.notify.contact.models import Contact
from services.notify.contact.service import AWAITING_SURVEY
from services.notify.survey import tokens
from services.notify.survey.models import SurveyAnswer, SurveyToken
from services.notify.survey.tokens import AlreadyAnswered, NotAwaitingSurvey
from shared import topics
from shared.events.feedback import SurveyAnsweredV1, SurveyResult
from shared.outbox import add_event

__all__ = ["ANSWERS", "AlreadyAnswered", "NotAwaitingSurvey", "awaiting", "current_answer", "parse_answer", "submit"]

#: What a citizen may answer (an SMS reply "1", a button, the words) → the result.
ANSWERS: dict[str, SurveyResult] = {
    "1": "满意",
    "2": "基本满意",
    "3": "不满意",
    "满意": "满意",
    "基本满意": "基本满意",
    "不满意": "不满意",
}


SOLVED: dict[str, bool | None] = {"满意": True, "基本满意": True, "不满意": False}


def parse_answer(raw: object) -> SurveyResult | None:
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        return None
    return ANSWERS.get(str(raw).strip().rstrip("。.").strip())


async def current_answer(session: AsyncSession, contact: Contact) -> SurveyAnswer | None:
    stmt = select(SurveyAnswer).where(
        SurveyAnswer.case_id == contact.case_id, SurveyAnswer.survey_round == contact.survey_round
    )
    return (await session.execute(stmt)).scalar_one_or_none()


def awaiting(contact: Contact) -> bool:
    return contact.state in AWAITING_SURVEY and contact.survey_round > 0


async def submit(
    session: AsyncSession,
    token: SurveyToken,
    contact: Contact,
    result: SurveyResult,
    *,
    comment: str | None = None,
    channel: str = "sms",
    now: datetime | None = None,
) -> SurveyAnswer:
    """Use ``token`` and store and publish one answer for its round: 409 if the round is answered or the case
    awaits no survey, 410 if the token expired or belongs to an older round."""
    now = now or datetime.now(UTC)
    tokens.check_open(token, contact, now)
    if await current_answer(session, contact) is not None:
        raise AlreadyAnswered("您已对本次办理结果作出评价，感谢您的反馈", tracking_code=contact.tracking_code)
    await tokens.use(session, token, now)
    comment = (comment or "").strip()[:500] or None
    row = {
        "id": str(ULID()),
        "case_id": contact.case_id,
        "tracking_code": contact.tracking_code,
        "survey_round": contact.survey_round,
        "result": result,
        "comment": comment,
        "channel": channel,
        "answered_at": now,
    }
    stmt = insert(SurveyAnswer).values(row).on_conflict_do_nothing(constraint="uq_survey_answers_round")
    inserted = (await session.execute(stmt.returning(SurveyAnswer.id))).scalar_one_or_none()
    if inserted is None:  # a concurrent answer won the race
        raise AlreadyAnswered("您已对本次办理结果作出评价，感谢您的反馈", tracking_code=contact.tracking_code)
    add_event(
        session,
        topics.FEEDBACK,
        SurveyAnsweredV1(
            case_id=contact.case_id,
            tracking_code=contact.tracking_code,
            result=result,
            solved=SOLVED.get(result),
            comment=comment,
            channel=channel,
            answered_at=now,
        ),
        key=contact.case_id,
        source="notify",
    )
    await session.flush()
    return SurveyAnswer(**row)
