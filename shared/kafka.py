"""aiokafka plumbing: producer (acks=all), topic creation, end offsets."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from shared.logging import get_logger
from shared.settings import Settings
from shared.topics import ALL_TOPICS

log = get_logger(__name__)


def make_producer(settings: Settings, *, client_id: str = "linkage") -> AIOKafkaProducer:
    # Idempotent producers are not supported by the embedded broker; the outbox plus idempotent
    # consumers give exactly-once effects instead.
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=client_id,
        acks="all",
        linger_ms=5,
        enable_idempotence=False,
        request_timeout_ms=15000,
        max_batch_size=256 * 1024,
    )


async def ensure_topics(
    settings: Settings, names: Iterable[str] | None = None, *, partitions: int | None = None, exact: bool = False
) -> list[str]:
    """Create the given topics (default: all main topics) if missing; returns the ones created.
    Names get the configured topic prefix unless ``exact``."""
    chosen = list(names) if names is not None else list(ALL_TOPICS)
    wanted = chosen if exact else [settings.topic(n) for n in chosen]
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=15000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        if not missing:
            return []
        new = [
            NewTopic(
                name=t, num_partitions=partitions or settings.partitions, replication_factor=settings.replication_factor
            )
            for t in missing
        ]
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics(new)
        log.info("topics created", topics=missing)
        return missing
    finally:
        await admin.close()


async def wait_for_broker(settings: Settings, timeout_s: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=3000)
        try:
            await admin.start()
            await admin.list_topics()
            return
        except (KafkaError, OSError):
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)
        finally:
            await admin.close()


class ClusterIdentity:
    """Reads the broker cluster id. The embedded broker gets a fresh id each start, so a changed id
    means the broker's (in-memory) topics were lost; a real Kafka cluster keeps its id."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._admin: AIOKafkaAdminClient | None = None

    async def cluster_id(self) -> str | None:
        if self._admin is None:
            self._admin = AIOKafkaAdminClient(bootstrap_servers=self._settings.kafka_bootstrap, request_timeout_ms=5000)
            await self._admin.start()
        info = await asyncio.wait_for(self._admin.describe_cluster(), timeout=10)
        value = info.get("cluster_id")
        return str(value) if value else None

    async def close(self) -> None:
        if self._admin is not None:
            admin, self._admin = self._admin, None
            with contextlib.suppress(Exception):
                await admin.close()
