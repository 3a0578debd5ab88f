"""Keep the contact book and each case's last known state from the case events."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.contact.models import Contact
from shared.events.cases import CaseEventV1

#: Case states in which dispatch accepts a survey answer (see services/dispatch/survey/service.py).
AWAITING_SURVEY = frozenset({"replied", "verified"})


def reach(event: CaseEventV1) -> tuple[str | None, str | None]:
    """(channel, recipient) for the reporter of a ``created`` event: WeChat if we have an openid, else SMS."""
    reporter = event.reporter
    if reporter is None or reporter.anonymous:
        return None, None
    if reporter.wechat_openid:
        return "wechat", reporter.wechat_openid
    if reporter.phone:
        return "sms", reporter.phone
    return None, None


async def load(session: AsyncSession, case_ids: Iterable[str]) -> dict[str, Contact]:
    ids = sorted(set(case_ids))
    if not ids:
        return {}
    rows = (await session.execute(select(Contact).where(Contact.case_id.in_(ids)))).scalars()
    return {c.case_id: c for c in rows}


def observe(session: AsyncSession, contacts: dict[str, Contact], event: CaseEventV1) -> Contact:
    """Apply one case event to the book (creating the row on ``created``, or on the first event of a case
    notify never saw created: then without a way to reach the reporter) and return the case's contact."""
    contact = contacts.get(event.case_id)
    if contact is None:
        channel, recipient = reach(event) if event.action == "created" else (None, None)
        contact = Contact(
            case_id=event.case_id,
            tracking_code=event.tracking_code,
            channel=channel,
            recipient=recipient,
            state=event.to_state,
            survey_round=0,
        )
        session.add(contact)
        contacts[event.case_id] = contact
    elif event.action == "created" and contact.channel is None:
        contact.channel, contact.recipient = reach(event)
    contact.state = event.to_state
    contact.updated_at = datetime.now(UTC)
    if event.action == "replied":
        contact.survey_round = (contact.survey_round or 0) + 1
    return contact


async def by_tracking_code(session: AsyncSession, code: str) -> Contact | None:
    return (await session.execute(select(Contact).where(Contact.tracking_code == code))).scalar_one_or_none()
