"""Compose messages from case events and record them ``pending`` (the delivery job sends them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from ulid import ULID

from services.notify.config import NotifySettings
from services.notify.contact.models import Contact
from services.notify.message import templates as t
from services.notify.message.models import Message
from shared.catalog import default_catalog
from shared.db import table_of
from shared.events.cases import CaseEventV1
from shared.wording import system_reason

URGE_REASONS = {
    "yellow": "办理时限已用去80%",
    "red": "已超过办理时限",
    "publicize": "超过办理时限5个工作日仍未办结",
    "whistle": "吹哨后30分钟内未报到",
}
GENERIC_REASONS = {"urge": "办理进度较慢", "supervise": "办理情况需要督促"}


def survey_link(base_url: str, token: str) -> str:
    """The survey page of one round: the token is the citizen's credential (see survey/tokens.py)."""
    return f"{base_url.rstrip('/')}/survey/{token}"


def _row(
    event: CaseEventV1, *, dedupe_key: str, channel: str, recipient: str, template: str, body: str
) -> dict[str, Any]:
    return {
        "id": str(ULID()),
        "dedupe_key": dedupe_key[:120],
        "case_id": event.case_id,
        "tracking_code": event.tracking_code,
        "channel": channel,
        "recipient": recipient,
        "template": template,
        "body": body,
        "status": "pending",
        "attempts": 0,
    }


def citizen_body(
    event: CaseEventV1, template: str, *, settings: NotifySettings, base_url: str = "", survey_token: str | None = None
) -> tuple[str, str] | None:
    """(template actually used, text) of the citizen message for ``event``, or None when there is nothing
    to say (e.g. a merge without the master's code, a close right after a knowledge-base answer)."""
    code = event.tracking_code
    details = event.details or {}
    if template == "receipt":
        if details.get("transfer_to"):  # 紧急警情: the first message says where it went, never "按时限办理"
            service = str(details["transfer_to"])
            center = t.EMERGENCY_CENTERS.get(service, f"{service}指挥中心")
            when = t.shanghai_time(event.at)
            body = t.render("transfer_receipt", code=code, time=when, center=center, service=service)
            return "transfer_receipt", body
        return template, t.render("receipt", code=code)
    if template == "transferred":
        if event.from_state == "accepted":
            return None  # transferred as it was opened: the receipt already said so
        service = str(details.get("service") or "110")
        return template, t.render(
            template, code=code, service=service, service_name=t.EMERGENCY_SERVICES.get(service, "相关部门")
        )
    if template == "answered":
        answer = t.shorten(str(details.get("text") or ""), settings.notify_answer_chars)
        if not answer:
            return "answered", t.render("answered_plain", code=code)
        return template, t.render(template, code=code, answer=answer)
    if template == "dispatched":
        deadline = t.shanghai_time(details.get("deadline_at") or event.deadline)
        part = f"，办理时限至{deadline}" if deadline else ""
        return template, t.render(template, code=code, dept=t.department_name(event.lead), deadline_part=part)
    if template == "replied":
        summary = t.shorten(str(details.get("text") or "承办单位已办理完毕"), settings.notify_reply_summary_chars)
        if not survey_token:  # no credential, no link: the citizen can still reply 1/2/3 by SMS
            return template, t.render("replied_no_link", code=code, summary=summary)
        return template, t.render(template, code=code, summary=summary, link=survey_link(base_url, survey_token))
    if template == "merged":
        master = details.get("master_tracking_code")
        return (template, t.render(template, code=code, master=master)) if master else None
    if template == "closed":
        if event.from_state in ("answered", "transferred"):
            return None
        return template, t.render(template, code=code)
    if template == "extension_approved":
        deadline = t.shanghai_time(details.get("deadline_at") or event.deadline)
        return template, t.render(template, code=code, deadline=deadline or "另行通知")
    return template, t.render(template, code=code)


def department_recipients(event: CaseEventV1) -> list[str]:
    """Department codes an urge/supervise notice goes to: ``details.to`` (``CGJ``, ``CGJ:head``,
    ``JJDD:center``, ``center:center``) reduced to department codes, else the lead."""
    raw = event.details.get("to") or ([event.lead] if event.lead else [])
    out: list[str] = []
    for item in raw:
        code = str(item).split(":", 1)[0]
        if code == "center":
            code = default_catalog().center().code
        if code and code not in out:
            out.append(code)
    return out


def department_body(event: CaseEventV1, template: str) -> str:
    """催办/督办 notice in whole sentences within one SMS: the level's reason, else the (Chinese) reason given,
    as many whole sentences as fit, else a short generic one; the matter name is left out if still too long."""
    level = str(event.details.get("level") or "")
    deadline = t.shanghai_time(event.deadline) or "规定时限"
    matter = f"（{t.matter_name(event.matter_code)}）" if event.matter_code else ""
    values = {"code": event.tracking_code, "deadline": deadline}
    for shown in (matter, ""):
        room = t.SMS_CHARS - len(t.render(template, matter=shown, reason="", **values))
        reason = URGE_REASONS.get(level) or t.whole_sentences(system_reason(event.reason), room)
        reason = reason if reason and len(reason) <= room else GENERIC_REASONS[template]
        body = t.render(template, matter=shown, reason=reason, **values)
        if len(body) <= t.SMS_CHARS:
            return body
    return body


def compose(
    event: CaseEventV1,
    event_id: str,
    contact: Contact | None,
    *,
    settings: NotifySettings,
    base_url: str = "",
    survey_token: str | None = None,
) -> list[dict[str, Any]]:
    """The message rows one case event leads to (citizen and/or departments); ``survey_token`` is the
    plaintext credential of the survey round a ``replied`` event opens (it goes into the link)."""
    rows: list[dict[str, Any]] = []
    template = t.CITIZEN_TEMPLATES.get(event.action)
    if template and contact is not None and contact.channel and contact.recipient:
        composed = citizen_body(event, template, settings=settings, base_url=base_url, survey_token=survey_token)
        if composed is not None:
            used, body = composed
            first = used in ("receipt", "transfer_receipt")
            key = f"receipt:{event.case_id}" if first else f"{used}:{event.case_id}:{event_id}"
            rows.append(
                _row(
                    event,
                    dedupe_key=key,
                    channel=contact.channel,
                    recipient=contact.recipient,
                    template=used,
                    body=body,
                )
            )
    dept_template = t.DEPARTMENT_TEMPLATES.get(event.action)
    if dept_template:
        body = department_body(event, dept_template)
        for dept in department_recipients(event):
            rows.append(
                _row(
                    event,
                    dedupe_key=f"{dept_template}:{event.case_id}:{event_id}:{dept}",
                    channel="webhook",
                    recipient=dept,
                    template=dept_template,
                    body=body,
                )
            )
    return rows


async def record_messages(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> int:
    """Insert pending messages; a dedupe key seen before is skipped. Returns how many were new."""
    if not rows:
        return 0
    table = table_of(Message)
    stmt = insert(table).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(table.c.id)
    created = (await session.execute(stmt, list(rows))).all()
    return len(created)


async def list_messages(
    session: AsyncSession,
    *,
    tracking_code: str | None = None,
    case_id: str | None = None,
    status: str | None = None,
    limit: int = 100,
) -> list[Message]:
    stmt = select(Message).order_by(Message.created_at.desc(), Message.id.desc()).limit(limit)
    if tracking_code:
        stmt = stmt.where(Message.tracking_code == tracking_code)
    if case_id:
        stmt = stmt.where(Message.case_id == case_id)
    if status:
        stmt = stmt.where(Message.status == status)
    return list((await session.execute(stmt)).scalars())
