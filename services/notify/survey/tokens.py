"""Survey credentials: a random token per survey round, sent to the citizen in the 办结 message's link.

192 random bits (``secrets.token_urlsafe(24)``); only the sha256 is stored (``survey_tokens``). A token is
good for one answer, until ``expires_at`` (``LINKAGE_SURVEY_TOKEN_TTL_HOURS`` after it was issued), and only
for its own round: a reopened and again replied case gets a new round and a new token, the old one is stale.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from services.notify.contact.models import Contact
from services.notify.contact.service import AWAITING_SURVEY
from services.notify.survey.models import SurveyToken
from shared.errors import Conflict, DomainError, NotFound

TOKEN_BYTES = 24
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class UnknownLink(NotFound):
    code = "survey_link_not_found"


class LinkExpired(DomainError):
    status_code = 410
    code = "survey_link_expired"


class AlreadyAnswered(Conflict):
    code = "already_answered"


class NotAwaitingSurvey(Conflict):
    code = "not_awaiting_survey"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(session: AsyncSession, contact: Contact, *, now: datetime, ttl: timedelta) -> str:
    """A new token for the contact's current survey round (staged in the session); returns the plaintext."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        SurveyToken(
            token_hash=token_hash(token),
            case_id=contact.case_id,
            survey_round=contact.survey_round,
            issued_at=now,
            expires_at=now + ttl,
        )
    )
    return token


async def find(session: AsyncSession, token: str, *, lock: bool = False) -> tuple[SurveyToken, Contact]:
    """The token's row and its case's contact; 404 when unknown (or not shaped like a token)."""
    if not _TOKEN_SHAPE.match(token):
        raise UnknownLink("评价链接无效，请核对短信或微信消息中的链接")
    stmt = (
        select(SurveyToken, Contact)
        .join(Contact, Contact.case_id == SurveyToken.case_id)
        .where(SurveyToken.token_hash == token_hash(token))
    )
    if lock:
        stmt = stmt.with_for_update(of=SurveyToken)
    found = (await session.execute(stmt)).one_or_none()
    if found is None:
        raise UnknownLink("评价链接无效，请核对短信或微信消息中的链接")
    return found[0], found[1]


def check_open(row: SurveyToken, contact: Contact, now: datetime) -> None:
    """409 when used, 410 when expired or stale (a newer round), 409 when the case awaits no answer."""
    if row.used_at is not None:
        raise AlreadyAnswered("您已对本次办理结果作出评价，感谢您的反馈", tracking_code=contact.tracking_code)
    if row.expires_at <= now:
        raise LinkExpired("评价链接已过期", tracking_code=contact.tracking_code)
    if row.survey_round != contact.survey_round:
        stale = "评价链接已失效：诉求已重新办理，请使用最新消息中的评价链接"
        raise LinkExpired(stale, tracking_code=contact.tracking_code)
    if contact.state not in AWAITING_SURVEY:
        raise NotAwaitingSurvey("该诉求当前无需评价", tracking_code=contact.tracking_code, state=contact.state)


async def open_round_for_phone(
    session: AsyncSession, phone: str, *, now: datetime, tracking_code: str | None = None
) -> tuple[SurveyToken, Contact] | None:
    """The latest open survey round sent by SMS to ``phone`` (optionally of one tracking code), locked."""
    stmt = (
        select(SurveyToken, Contact)
        .join(Contact, Contact.case_id == SurveyToken.case_id)
        .where(
            SurveyToken.used_at.is_(None),
            SurveyToken.expires_at > now,
            SurveyToken.survey_round == Contact.survey_round,
            Contact.state.in_(AWAITING_SURVEY),
            Contact.channel == "sms",
            Contact.recipient == phone,
        )
        .order_by(SurveyToken.issued_at.desc())
        .limit(1)
        .with_for_update(of=SurveyToken)
    )
    if tracking_code:
        stmt = stmt.where(Contact.tracking_code == tracking_code)
    found = (await session.execute(stmt)).one_or_none()
    return (found[0], found[1]) if found is not None else None


async def use(session: AsyncSession, row: SurveyToken, now: datetime) -> None:
    """Mark the token used; 409 if a concurrent request used it first."""
    stmt = (
        update(SurveyToken)
        .where(SurveyToken.token_hash == row.token_hash, SurveyToken.used_at.is_(None))
        .values(used_at=now)
        .returning(SurveyToken.token_hash)
    )
    if (await session.execute(stmt)).scalar_one_or_none() is None:
        raise AlreadyAnswered("您已对本次办理结果作出评价，感谢您的反馈")
    set_committed_value(row, "used_at", now)
