"""Transfer adapters: how a hand-off document reaches the joint 110/119/120/122 platform.

- :class:`WebhookAdapter`: POST the JSON document, HMAC-signed (see :mod:`.signing`), ``Idempotency-Key`` = the
  hand-off id (a re-sent document is the same hand-off). A 2xx answer means the platform has it; when the answer
  carries ``receipt_id`` the platform acknowledged at once, otherwise it calls back
  ``POST /api/v1/handoffs/{id}/ack`` later. Anything else is retried with backoff by the job.
- :class:`SinkAdapter`: the development sink (``linkage up``, tests): the document is stored in ``handoff_sink``
  and acknowledged after ``handoff_sink_ack_delay_s``.
- :class:`NoAdapter`: nothing configured: nothing leaves, the dispatchers are alerted and phone the service.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dispatch.handoff import service, signing
from services.dispatch.handoff.config import HandoffSettings
from services.dispatch.handoff.service import SendOutcome


class TransferAdapter(Protocol):
    name: str

    async def send(self, handoff_id: str, document: dict[str, Any]) -> SendOutcome: ...

    async def aclose(self) -> None: ...


def encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, sort_keys=True, default=str).encode()


class WebhookAdapter:
    name = "webhook"

    def __init__(self, settings: HandoffSettings, client: httpx.AsyncClient | None = None) -> None:
        self.url = settings.handoff_webhook_url
        self.secret = settings.handoff_webhook_secret
        self.client = client or httpx.AsyncClient(timeout=settings.handoff_timeout_s)

    async def send(self, handoff_id: str, document: dict[str, Any]) -> SendOutcome:
        if not self.secret:
            return SendOutcome(False, error="no signing secret: set LINKAGE_HANDOFF_WEBHOOK_SECRET")
        body = encode(document)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": handoff_id,
            "X-Linkage-Handoff-Id": handoff_id,
            **signing.signed_headers(self.secret, body),
        }
        try:
            r = await self.client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return SendOutcome(False, error=f"{type(exc).__name__}: {exc}"[:500])
        if not 200 <= r.status_code < 300:
            return SendOutcome(False, error=f"HTTP {r.status_code}: {r.text[:300]}")
        try:
            answer = r.json()
        except ValueError:
            answer = {}
        receipt = answer.get("receipt_id") if isinstance(answer, dict) else None
        handled_by = answer.get("handled_by") if isinstance(answer, dict) else None
        return SendOutcome(
            True,
            receipt_id=str(receipt)[:100] if receipt else None,
            acknowledged=bool(receipt),
            handled_by=str(handled_by)[:120] if handled_by else None,
        )

    async def aclose(self) -> None:
        await self.client.aclose()


class SinkAdapter:
    name = "sink"

    def __init__(self, settings: HandoffSettings, maker: async_sessionmaker[AsyncSession]) -> None:
        self.maker = maker
        self.delay_s = settings.handoff_sink_ack_delay_s

    async def send(self, handoff_id: str, document: dict[str, Any]) -> SendOutcome:
        async with self.maker() as session, session.begin():
            await service.sink_receive(session, handoff_id, document, now=datetime.now(UTC), delay_s=self.delay_s)
        return SendOutcome(True)

    async def aclose(self) -> None:
        return None


class NoAdapter:
    name = "none"

    async def send(self, handoff_id: str, document: dict[str, Any]) -> SendOutcome:
        return SendOutcome(False, error="no transfer adapter configured (LINKAGE_HANDOFF_ADAPTER / _WEBHOOK_URL)")

    async def aclose(self) -> None:
        return None


def make_adapter(
    settings: HandoffSettings, *, demo_mode: bool, maker: async_sessionmaker[AsyncSession]
) -> TransferAdapter:
    chosen = settings.resolved_adapter(demo_mode=demo_mode)
    if chosen == "webhook":
        return WebhookAdapter(settings)
    if chosen == "sink":
        return SinkAdapter(settings, maker)
    return NoAdapter()
