"""A survey answer on linkage.feedback.v1 closes the case in the running dispatch service (the stack shares
the session's database, so this lives with the e2e tests, not the integration ones)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import topics
from shared.events import encode_event
from shared.settings import Settings
from tests.db import sessions_fixture
from tests.integration.test_surveys import _answer, _replied_case, _state
from tests.support import Stack

pytestmark = pytest.mark.asyncio(loop_scope="session")

maker = sessions_fixture("dispatch")


async def test_survey_answer_through_the_broker(
    stack: Stack, settings: Settings, maker: async_sessionmaker[AsyncSession]
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        ready = (await client.get(f"{stack.url('dispatch')}/readyz")).json()
    assert ready["ok"] and "calendar" in ready and "current_year" in ready["calendar"]
    case = await _replied_case(maker)
    headers, value, _ = encode_event(_answer(case, "满意"), source="notify", subject=case.id)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.topic(topics.FEEDBACK), value=value, key=case.id.encode(), headers=headers
        )
    finally:
        await producer.stop()
    for _ in range(150):
        if (await _state(maker, case.id)).state == "closed":
            break
        await asyncio.sleep(0.2)
    assert (await _state(maker, case.id)).state == "closed"
