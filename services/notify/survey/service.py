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

__all__ = [
    "ANSWERS",
    "SOLVED_WORDS",
    "AlreadyAnswered",
    "NotAwaitingSurvey",
    "awaiting",
    "current_answer",
    "parse_answer",
    "parse_solved",
    "submit",
]

#: What a citizen may answer (an SMS reply "1", a button, the words) → the result.
ANSWERS: dict[str, SurveyResult] = {
    "1": "满意",
    "2": "基本满意",
    "3": "不满意",
    "满意": "满意",
    "基本满意": "基本满意",
    "不满意": "不满意",
}


#: The citizen's own answer to "您反映的问题解决了吗？" written beside an SMS reply ("1 已解决", "3未解决");
#: longest first, so 未解决 is not read as 解决.
SOLVED_WORDS: dict[str, bool] = {"没有解决": False, "已解决": True, "未解决": False, "没解决": False}
_SEPARATORS = " \t，,、。.；;+/"


def _split_solved(raw: object) -> tuple[str | None, bool | None]:
    """The reply without its 已解决/未解决 words, and what they said (None: not said)."""
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        return None, None
    text = str(raw).strip()
    for word, solved in SOLVED_WORDS.items():
        if word in text:
            return text.replace(word, " ", 1).strip(_SEPARATORS), solved
    return text, None


def parse_answer(raw: object) -> SurveyResult | None:
    """The satisfaction result of an answer: ``1``/``2``/``3`` or the words, an 已解决/未解决 beside it ignored."""
    text, _ = _split_solved(raw)
    return ANSWERS.get(text.strip().rstrip("。.").strip()) if text is not None else None


def parse_solved(raw: object) -> bool | None:
    """What an answer like ``"2 已解决"`` says about solving: True, False, or None when it says nothing."""
    return _split_solved(raw)[1]


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
    solved: bool | None = None,
    now: datetime | None = None,
) -> SurveyAnswer:
    """Use ``token`` and store and publish one answer for its round: 409 if the round is answered or the case
    awaits no survey, 410 if the token expired or belongs to an older round.

    ``solved`` is the citizen's own answer to "您反映的问题解决了吗？" (None: not asked or not said); it travels
    in the event as given, never derived from the satisfaction result."""
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
        "solved": solved,
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
            solved=solved,
            comment=comment,
            channel=channel,
            answered_at=now,
        ),
        key=contact.case_id,
        source="notify",
    )
    await session.flush()
    return SurveyAnswer(**row)
