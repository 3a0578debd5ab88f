"""The hand-off job (a supervised background task of dispatch): escalate, acknowledge (sink), send.

One pass: (1) hand-offs whose acknowledgement is overdue are escalated and queued to be sent again; (2) with the
development sink, its due acknowledgements are applied; (3) due hand-offs are claimed (``FOR UPDATE SKIP
LOCKED``, counted, leased) in one short transaction, sent with no transaction open, and each outcome recorded:
taken → ``sent`` (history: 推送警情), acknowledged at once → ``acknowledged``, failed → retried with exponential
backoff. A process that dies mid-send leaves the lease to expire and another pass sends again (the platform sees
the same ``Idempotency-Key``).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prometheus_client import Counter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.case.models import Case
from services.dispatch.handoff import service
from services.dispatch.handoff.adapters import TransferAdapter, make_adapter
from services.dispatch.handoff.config import HandoffSettings, get_handoff_settings
from services.dispatch.handoff.service import SendOutcome
from shared.logging import get_logger
from shared.tracing import continue_trace

if TYPE_CHECKING:
    from shared.app import ServiceRuntime

log = get_logger(__name__)

ATTEMPTS = Counter("linkage_handoff_attempts_total", "Hand-off delivery attempts", ["adapter", "outcome"])
ESCALATIONS = Counter("linkage_handoff_escalations_total", "Hand-offs escalated for want of an acknowledgement")


async def _send(adapter: TransferAdapter, handoff_id: str, document: dict[str, object], limit_s: float) -> SendOutcome:
    try:
        async with asyncio.timeout(limit_s):
            with continue_trace(None, f"hand-off {adapter.name}"):
                return await adapter.send(handoff_id, dict(document))
    except TimeoutError:
        return SendOutcome(False, error="timeout")
    except Exception as exc:  # noqa: BLE001 - an adapter bug must not stop the job: retried
        log.exception("transfer adapter raised", handoff_id=handoff_id, adapter=adapter.name)
        return SendOutcome(False, error=f"adapter error: {exc!r}"[:500])


async def handoff_pass(
    maker: async_sessionmaker[AsyncSession],
    adapter: TransferAdapter,
    settings: HandoffSettings,
    *,
    base_url: str = "",
    now: datetime | None = None,
) -> int:
    """One pass; returns how many hand-offs changed (escalated, acknowledged or attempted)."""
    now = now or datetime.now(UTC)
    changed = 0
    async with maker() as session, session.begin():
        escalated = await service.escalate_due(session, settings, now)
    if escalated:
        ESCALATIONS.inc(escalated)
        log.warning("hand-offs escalated: no acknowledgement in time", count=escalated)
    changed += escalated
    if adapter.name == "sink":
        async with maker() as session, session.begin():
            changed += await service.sink_acknowledge_due(session, settings, now)
    async with maker() as session, session.begin():
        claimed = await service.claim_due(session, settings, now)
        cases = {
            c.id: c
            for c in (await session.execute(select(Case).where(Case.id.in_([h.case_id for h in claimed])))).scalars()
        }
        work = [
            (h.id, h.attempts, service.build_document(h, cases[h.case_id], base_url=base_url, now=now))
            for h in claimed
            if h.case_id in cases
        ]
    if not work:
        return changed
    outcomes = await asyncio.gather(
        *(_send(adapter, handoff_id, document, settings.handoff_timeout_s * 2) for handoff_id, _, document in work)
    )
    done = datetime.now(UTC)
    async with maker() as session, session.begin():
        for (handoff_id, attempts, _), outcome in zip(work, outcomes, strict=True):
            result = await service.record_attempt(
                session, handoff_id, attempts, outcome, adapter=adapter.name, settings=settings, now=done
            )
            ATTEMPTS.labels(adapter.name, result).inc()
            if result == "retry":
                log.warning(
                    "hand-off not taken; will retry", handoff_id=handoff_id, attempts=attempts, error=outcome.error
                )
    return changed + len(work)


async def run_handoffs(runtime: ServiceRuntime) -> None:
    """Background job of dispatch: hand transferred cases over to 110/119/120/122 (see the module docstring)."""
    settings = runtime.extras.get("handoff_settings") or get_handoff_settings()
    adapter = make_adapter(settings, demo_mode=runtime.settings.demo_mode, maker=runtime.sessionmaker)
    log.info(
        "hand-off job started",
        adapter=adapter.name,
        ack_timeout_s=settings.handoff_ack_timeout_s,
        url=settings.handoff_webhook_url or None,
    )
    base_url = runtime.settings.public_base_url
    try:
        while True:
            try:
                changed = await handoff_pass(runtime.sessionmaker, adapter, settings, base_url=base_url)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - database restarts: log and go on
                log.warning("hand-off pass failed; retrying", error=repr(exc))
                await asyncio.sleep(settings.handoff_poll_interval_s * 5)
                continue
            if changed:
                runtime.relay.wake()
            await asyncio.sleep(settings.handoff_poll_interval_s)
    finally:
        await adapter.aclose()
