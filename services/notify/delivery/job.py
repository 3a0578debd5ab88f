"""The delivery job: send ``pending`` messages through their channel adapter, outside any consumer.

A pass claims due messages with ``FOR UPDATE SKIP LOCKED`` (any number of notify replicas), counts the
attempt and leases them (``next_attempt_at`` = now + lease) in one short transaction, sends without a
transaction open, then records the outcome: ``sent``; ``pending`` again with exponential backoff; or
``failed`` after ``notify_max_attempts``. A process that dies mid-send leaves the lease to expire and the
message is tried again. Final outcomes are published as ``MessageDeliveredV1`` through the outbox.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from prometheus_client import Counter
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notify.config import NotifySettings, get_notify_settings
from services.notify.delivery.adapters import Adapters, SendResult
from services.notify.message.models import Message
from shared import topics
from shared.events.notify import MessageDeliveredV1
from shared.logging import get_logger
from shared.outbox import add_event
from shared.tracing import continue_trace

if TYPE_CHECKING:
    from shared.app import ServiceRuntime

log = get_logger(__name__)

DELIVERIES = Counter("linkage_notify_deliveries_total", "Send attempts by channel and outcome", ["channel", "outcome"])


def backoff(settings: NotifySettings, attempts: int) -> timedelta:
    """Delay before attempt ``attempts + 1``: base × 2^(attempts-1), capped, ±10 % jitter."""
    base = settings.notify_backoff_s * (2 ** max(attempts - 1, 0))
    delay = min(base, settings.notify_backoff_max_s) * random.uniform(0.9, 1.1)  # noqa: S311 - jitter
    return timedelta(seconds=delay)


async def _claim(
    session: AsyncSession, settings: NotifySettings, now: datetime, case_id: str | None = None
) -> list[Message]:
    conditions = [Message.status == "pending", Message.next_attempt_at <= now]
    if case_id is not None:
        conditions.append(Message.case_id == case_id)
    stmt = (
        select(Message)
        .where(*conditions)
        .order_by(Message.next_attempt_at, Message.id)
        .limit(settings.notify_batch_size)
        .with_for_update(skip_locked=True)
    )
    messages = list((await session.execute(stmt)).scalars())
    for m in messages:
        m.attempts = (m.attempts or 0) + 1
        m.next_attempt_at = now + timedelta(seconds=settings.notify_lease_s)
    return messages


async def _send(adapters: Adapters, message: Message, limit_s: float) -> SendResult:
    try:
        async with asyncio.timeout(limit_s):
            return await adapters.for_message(message).send(message)
    except TimeoutError:
        return SendResult("retry", "timeout")
    except Exception as exc:  # noqa: BLE001 - an adapter bug must not stop the job; retried, then failed
        log.exception("channel adapter raised", message_id=message.id, channel=message.channel)
        return SendResult("retry", f"adapter error: {exc!r}")


async def _send_traced(adapters: Adapters, message: Message, limit_s: float) -> tuple[SendResult, str | None]:
    """Send in the trace of the case event the message came from; returns the send span's traceparent too,
    for the delivery event."""
    with continue_trace(message.traceparent, f"deliver {message.channel}") as traceparent:
        return await _send(adapters, message, limit_s), traceparent


_RECORD_OUTCOMES = text(
    """
    UPDATE messages AS m
    SET status = u.status,
        sent_at = COALESCE(u.sent_at, m.sent_at),
        next_attempt_at = u.next_attempt_at,
        last_error = u.last_error
    FROM unnest(CAST(:ids AS text[]), CAST(:attempts AS int[]), CAST(:statuses AS text[]),
                CAST(:sent AS timestamptz[]), CAST(:next AS timestamptz[]), CAST(:errors AS text[]))
         AS u(id, attempts, status, sent_at, next_attempt_at, last_error)
    WHERE m.id = u.id AND m.status = 'pending' AND m.attempts = u.attempts
    RETURNING m.id
    """
)


def _outcome(
    settings: NotifySettings, message: Message, result: SendResult, done: datetime
) -> tuple[str, datetime | None, datetime | None]:
    """(status, sent_at, next_attempt_at) after one send: sent, failed for good, or pending with a backoff."""
    status = result.status
    if status == "retry" and message.attempts >= settings.notify_max_attempts:
        status = "failed"
    if status == "sent":
        return "sent", done, None
    if status == "failed":
        return "failed", None, None
    return "pending", None, done + backoff(settings, message.attempts)


async def _record_outcomes(
    session: AsyncSession,
    messages: Sequence[Message],
    outcomes: Sequence[tuple[str, datetime | None, datetime | None]],
    errors: Sequence[str | None],
) -> set[str]:
    """Write every outcome in one statement, each only if this pass still holds the message (same attempt, still
    pending); the ids written."""
    rows = await session.execute(
        _RECORD_OUTCOMES,
        {
            "ids": [m.id for m in messages],
            "attempts": [m.attempts for m in messages],
            "statuses": [o[0] for o in outcomes],
            "sent": [o[1] for o in outcomes],
            "next": [o[2] for o in outcomes],
            "errors": list(errors),
        },
    )
    return {str(r[0]) for r in rows}


async def deliver_once(
    maker: async_sessionmaker[AsyncSession],
    adapters: Adapters,
    settings: NotifySettings,
    *,
    now: datetime | None = None,
    case_id: str | None = None,
) -> dict[str, int]:
    """One pass (optionally over one case's messages only); returns counts by outcome."""
    now = now or datetime.now(UTC)
    async with maker() as session, session.begin():
        messages = await _claim(session, settings, now, case_id)
    counts = {"sent": 0, "retry": 0, "failed": 0}
    if not messages:
        return counts
    sent = await asyncio.gather(*(_send_traced(adapters, m, settings.notify_send_timeout_s * 2) for m in messages))
    results = [result for result, _ in sent]
    traces = {m.id: traceparent for m, (_, traceparent) in zip(messages, sent, strict=True)}
    done = datetime.now(UTC)
    async with maker() as session, session.begin():
        outcomes = [_outcome(settings, m, r, done) for m, r in zip(messages, results, strict=True)]
        changed = await _record_outcomes(session, messages, outcomes, [r.error for r in results])
        for message, result, (written, _, _) in zip(messages, results, outcomes, strict=True):
            if message.id not in changed:
                continue  # our lease expired and another pass took it over
            status = "retry" if written == "pending" else written
            counts[status] += 1
            DELIVERIES.labels(message.channel, status).inc()
            if status == "retry":
                log.warning(
                    "message delivery failed; will retry",
                    message_id=message.id,
                    channel=message.channel,
                    attempts=message.attempts,
                    error=result.error,
                )
                continue
            if status == "failed":
                log.error(
                    "message delivery failed for good",
                    message_id=message.id,
                    channel=message.channel,
                    attempts=message.attempts,
                    error=result.error,
                )
            add_event(
                session,
                topics.DELIVERIES,
                MessageDeliveredV1(
                    message_id=message.id,
                    case_id=message.case_id,
                    tracking_code=message.tracking_code,
                    channel=message.channel,
                    template=message.template,
                    status=status,
                    at=done,
                ),
                key=message.case_id or message.id,
                source="notify",
                traceparent=traces.get(message.id),
            )
    return counts


async def run_delivery(runtime: ServiceRuntime) -> None:
    """Background job of the notify service: deliver due messages; drain a backlog without sleeping."""
    settings = runtime.extras.get("notify_settings") or get_notify_settings()
    adapters = Adapters(settings)
    log.info(
        "delivery job started",
        sms=adapters.sms.name,
        wechat=adapters.wechat.name,
        max_attempts=settings.notify_max_attempts,
    )
    try:
        while True:
            try:
                counts = await deliver_once(runtime.sessionmaker, adapters, settings)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - database restarts: log and go on
                log.warning("delivery pass failed; retrying", error=repr(exc))
                await asyncio.sleep(settings.notify_poll_interval_s * 5)
                continue
            handled = sum(counts.values())
            if handled:
                runtime.relay.wake()
            if handled < settings.notify_batch_size:
                await asyncio.sleep(settings.notify_poll_interval_s)
    finally:
        await adapters.aclose()
