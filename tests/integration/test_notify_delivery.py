"""Notify on real PostgreSQL: the case-event consumer's contact book and messages, the delivery job's
retries/backoff/failure, survey answers' validation and outbox event.

The session's stack may run a notify process on the same schema, so every test works on its own case id
and the delivery passes run at a time far ahead (``now``) on that case only.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from ulid import ULID

from services.notify.config import NotifySettings
from services.notify.consumers import case_event_handler
from services.notify.contact.models import Contact
from services.notify.delivery.adapters import Adapters, SendResult
from services.notify.delivery.job import deliver_once
from services.notify.message.models import Message
from services.notify.survey import tokens
from services.notify.survey.models import SurveyToken
from services.notify.survey.service import AlreadyAnswered, NotAwaitingSurvey, submit
from services.notify.survey.tokens import LinkExpired, UnknownLink, token_hash
from shared import topics
from shared.consumer import ConsumedEvent
from shared.events import Envelope
from shared.events.cases import case_event
from shared.events.complaints import Reporter
from shared.outbox import OutboxRow
from tests.db import sessions_fixture

pytestmark = pytest.mark.asyncio(loop_scope="session")

NOW = dt.datetime.now(dt.UTC)
AHEAD = NOW + dt.timedelta(days=30)
SETTINGS = NotifySettings(notify_max_attempts=3, notify_backoff_s=3600, notify_backoff_max_s=4 * 3600)


maker = sessions_fixture("notify")


def _consumed(action: str, case_id: str, code: str, **fields: Any) -> ConsumedEvent:
    payload = case_event(action, case_id=case_id, tracking_code=code, at=NOW, **fields)
    envelope = Envelope(
        id=str(ULID()), source="dispatch", type=payload.event_type, time=NOW, data=payload.model_dump(mode="json")
    )
    return ConsumedEvent(envelope=envelope, payload=payload, topic=topics.CASES, partition=0, offset=0, key=case_id)


async def _apply(maker: async_sessionmaker[AsyncSession], events: Sequence[ConsumedEvent]) -> None:
    async with maker() as session, session.begin():
        await case_event_handler(SETTINGS, base_url="https://x.test")(session, events)


async def _messages(maker: async_sessionmaker[AsyncSession], case_id: str) -> list[Message]:
    async with maker() as session:
        stmt = select(Message).where(Message.case_id == case_id).order_by(Message.created_at, Message.id)
        return list((await session.execute(stmt)).scalars())


def _token_in(body: str) -> str:
    """The survey token in a 办结 message's link (``https://x.test/survey/<token>``)."""
    return body.split("https://x.test/survey/")[1].split()[0].rstrip("，。,")


async def _latest_token(maker: async_sessionmaker[AsyncSession], case_id: str) -> str:
    replied = [m for m in await _messages(maker, case_id) if m.template == "replied"]
    return _token_in(replied[-1].body)


def _ids() -> tuple[str, str]:
    case_id = str(ULID())
    return case_id, "T" + case_id[-11:]


async def test_contact_book_state_and_idempotent_messages(maker: async_sessionmaker[AsyncSession]) -> None:
    case_id, code = _ids()
    created = _consumed("created", case_id, code, to_state="accepted", reporter=Reporter(phone="13800138000"))
    dispatched = _consumed("dispatched", case_id, code, from_state="accepted", to_state="dispatched", lead="CGJ")
    await _apply(maker, [created, dispatched])
    await _apply(maker, [created, dispatched])  # redelivered: the dedupe keys hold
    replied = _consumed(
        "replied", case_id, code, from_state="in_progress", to_state="replied", details={"text": "已处理"}
    )
    await _apply(maker, [replied])
    messages = await _messages(maker, case_id)
    assert [m.template for m in messages] == ["receipt", "dispatched", "replied"]
    assert {m.recipient for m in messages} == {"13800138000"}
    async with maker() as session:
        contact = await session.get(Contact, case_id)
    assert contact is not None and contact.state == "replied" and contact.survey_round == 1
    token = _token_in(messages[2].body)
    assert len(token) >= 32  # >= 192 bits, url-safe
    async with maker() as session:
        stored = (await session.execute(select(SurveyToken).where(SurveyToken.case_id == case_id))).scalars().all()
    # only the hash is stored, valid for the survey window
    assert [t.token_hash for t in stored] == [token_hash(token)] and token not in stored[0].token_hash
    assert dt.timedelta(hours=239) < stored[0].expires_at - stored[0].issued_at <= dt.timedelta(hours=240)


async def test_events_of_a_case_never_seen_created_track_state_without_a_recipient(
    maker: async_sessionmaker[AsyncSession],
) -> None:
    case_id, code = _ids()
    await _apply(maker, [_consumed("replied", case_id, code, to_state="replied")])
    async with maker() as session:
        contact = await session.get(Contact, case_id)
    assert contact is not None and contact.channel is None and contact.state == "replied"
    assert await _messages(maker, case_id) == []


class Scripted:
    """An adapter answering from a script, recording what it was asked to send."""

    name = "scripted"

    def __init__(self, *outcomes: SendResult) -> None:
        self.outcomes = list(outcomes)
        self.sent: list[str] = []

    async def send(self, message: Message) -> SendResult:
        self.sent.append(message.id)
        return self.outcomes.pop(0)


class Boom:
    name = "boom"

    async def send(self, message: Message) -> SendResult:
        raise RuntimeError("adapter bug")


def _adapters(adapter: Any) -> Adapters:
    adapters = Adapters(SETTINGS)
    adapters.sms = adapter
    return adapters


async def _pending_message(maker: async_sessionmaker[AsyncSession]) -> str:
    """A pending message due only at AHEAD: out of reach of a delivery job running at the real time."""
    case_id, code = _ids()
    async with maker() as session, session.begin():
        session.add(
            Message(
                id=str(ULID()),
                dedupe_key=f"receipt:{case_id}",
                case_id=case_id,
                tracking_code=code,
                channel="sms",
                recipient="13800138000",
                template="receipt",
                body="【12345】测试",
                status="pending",
                attempts=0,
                next_attempt_at=AHEAD,
            )
        )
    return case_id


async def test_retry_with_backoff_then_sent(maker: async_sessionmaker[AsyncSession]) -> None:
    case_id = await _pending_message(maker)
    adapter = Scripted(SendResult("retry", "HTTP 503"), SendResult("sent"))
    adapters = _adapters(adapter)
    assert await deliver_once(maker, adapters, SETTINGS, now=AHEAD, case_id=case_id) == {
        "sent": 0,
        "retry": 1,
        "failed": 0,
    }
    (m,) = await _messages(maker, case_id)
    assert m.status == "pending" and m.attempts == 1 and m.last_error == "HTTP 503"
    assert m.next_attempt_at is not None
    wait = (m.next_attempt_at - dt.datetime.now(dt.UTC)).total_seconds()
    assert 0.85 * 3600 < wait < 1.15 * 3600
    # not due yet at the real time
    assert sum((await deliver_once(maker, adapters, SETTINGS, case_id=case_id)).values()) == 0
    assert await deliver_once(maker, adapters, SETTINGS, now=AHEAD, case_id=case_id) == {
        "sent": 1,
        "retry": 0,
        "failed": 0,
    }
    (m,) = await _messages(maker, case_id)
    assert m.status == "sent" and m.attempts == 2 and m.sent_at is not None and m.last_error is None
    assert adapter.sent == [m.id, m.id]
    async with maker() as session:
        rows = (
            (
                await session.execute(
                    select(OutboxRow).where(OutboxRow.topic == topics.DELIVERIES, OutboxRow.key == case_id)
                )
            )
            .scalars()
            .all()
        )
    assert len(rows) == 1


async def test_failed_after_max_attempts_and_adapter_errors_count(maker: async_sessionmaker[AsyncSession]) -> None:
    case_id = await _pending_message(maker)
    adapters = _adapters(Boom())
    for _ in range(3):
        await deliver_once(maker, adapters, SETTINGS, now=AHEAD, case_id=case_id)
    (m,) = await _messages(maker, case_id)
    assert m.status == "failed" and m.attempts == 3 and "adapter bug" in (m.last_error or "")
    assert sum((await deliver_once(maker, adapters, SETTINGS, now=AHEAD, case_id=case_id)).values()) == 0


async def test_permanent_refusal_fails_at_once(maker: async_sessionmaker[AsyncSession]) -> None:
    case_id = await _pending_message(maker)
    await deliver_once(
        maker, _adapters(Scripted(SendResult("failed", "HTTP 400"))), SETTINGS, now=AHEAD, case_id=case_id
    )
    (m,) = await _messages(maker, case_id)
    assert m.status == "failed" and m.attempts == 1


async def test_survey_answer_needs_the_rounds_token_once(maker: async_sessionmaker[AsyncSession]) -> None:
    case_id, code = _ids()
    await _apply(
        maker, [_consumed("created", case_id, code, to_state="dispatched", reporter=Reporter(phone="13800138000"))]
    )
    async with maker() as session:
        with pytest.raises(UnknownLink):  # no round yet: no token exists at all
            await tokens.find(session, "x" * 32)
    await _apply(maker, [_consumed("replied", case_id, code, to_state="replied")])
    first = await _latest_token(maker, case_id)
    async with maker() as session, session.begin():
        row, contact = await tokens.find(session, first, lock=True)
        answer = await submit(session, row, contact, "不满意", comment="  还没修好 ", channel="web")
        assert answer.result == "不满意" and answer.comment == "还没修好" and answer.survey_round == 1
    async with maker() as session, session.begin():
        row, contact = await tokens.find(session, first, lock=True)
        assert row.used_at is not None
        with pytest.raises(AlreadyAnswered):  # the same token again
            await submit(session, row, contact, "满意")
        rows = (
            (
                await session.execute(
                    select(OutboxRow).where(OutboxRow.topic == topics.FEEDBACK, OutboxRow.key == case_id)
                )
            )
            .scalars()
            .all()
        )
        assert len(rows) == 1 and rows[0].event_type == "cn.linkage.feedback.survey_answered.v1"
    # reopened and replied again: a new round with a new token; the first one is used, a second-round token
    # that is not answered before the case is reopened again becomes stale
    await _apply(
        maker,
        [
            _consumed("reopened", case_id, code, to_state="dispatched"),
            _consumed("replied", case_id, code, to_state="replied"),
        ],
    )
    second = await _latest_token(maker, case_id)
    assert second != first
    await _apply(maker, [_consumed("reopened", case_id, code, to_state="dispatched")])
    async with maker() as session, session.begin():
        row, contact = await tokens.find(session, second, lock=True)
        with pytest.raises(NotAwaitingSurvey):  # round 2's token while the case is being handled again
            await submit(session, row, contact, "满意")
    await _apply(maker, [_consumed("replied", case_id, code, to_state="replied")])
    third = await _latest_token(maker, case_id)
    async with maker() as session, session.begin():
        row, contact = await tokens.find(session, second, lock=True)
        with pytest.raises(LinkExpired, match="失效"):  # round 2's token after round 3 began
            await submit(session, row, contact, "满意")
    async with maker() as session, session.begin():
        row, contact = await tokens.find(session, third, lock=True)
        assert (await submit(session, row, contact, "满意")).survey_round == 3


async def test_expired_token_is_410(maker: async_sessionmaker[AsyncSession]) -> None:
    case_id, code = _ids()
    await _apply(
        maker,
        [
            _consumed("created", case_id, code, to_state="dispatched", reporter=Reporter(phone="13800138001")),
            _consumed("replied", case_id, code, to_state="replied"),
        ],
    )
    token = await _latest_token(maker, case_id)
    async with maker() as session, session.begin():
        row, contact = await tokens.find(session, token, lock=True)
        with pytest.raises(LinkExpired) as info:
            await submit(session, row, contact, "满意", now=row.expires_at + dt.timedelta(seconds=1))
        assert info.value.status_code == 410


async def test_gateway_reply_finds_the_phones_open_round(maker: async_sessionmaker[AsyncSession]) -> None:
    phone = f"139{secrets.randbelow(10**8):08d}"
    case_id, code = _ids()
    assert await _open(maker, phone) is None
    await _apply(
        maker,
        [
            _consumed("created", case_id, code, to_state="dispatched", reporter=Reporter(phone=phone)),
            _consumed("replied", case_id, code, to_state="replied"),
        ],
    )
    found = await _open(maker, phone)
    assert found == case_id
    assert await _open(maker, phone, tracking_code="NOPE") is None
    assert await _open(maker, "13000000000") is None


async def _open(maker: async_sessionmaker[AsyncSession], phone: str, tracking_code: str | None = None) -> str | None:
    async with maker() as session:
        found = await tokens.open_round_for_phone(
            session, phone, now=dt.datetime.now(dt.UTC), tracking_code=tracking_code
        )
    return found[1].case_id if found else None
