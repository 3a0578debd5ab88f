"""``linkage_consumer_lag`` against the real broker: the partition's high watermark minus the consumer's position,
falling as the consumer reads and going away when the consumer stops."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.kafka import ensure_topics, make_producer
from shared.metrics import CONSUMER_LAG, ConsumerLag
from shared.settings import Settings


def lag_values(group: str) -> dict[int, float]:
    return {
        int(s.labels["partition"]): s.value
        for metric in CONSUMER_LAG.collect()
        for s in metric.samples
        if s.labels["group"] == group
    }


async def test_lag_is_highwater_minus_position(settings: Settings) -> None:
    topic = settings.topic(f"lag-{uuid.uuid4().hex[:8]}")
    await ensure_topics(settings, [topic], partitions=1, exact=True)
    producer = make_producer(settings, client_id="test-lag")
    await producer.start()
    try:
        for i in range(10):
            await producer.send_and_wait(topic, value=f"record {i}".encode(), partition=0)
    finally:
        await producer.stop()

    group = settings.group(f"lag-{uuid.uuid4().hex[:8]}")
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=3,
        metadata_max_age_ms=5000,
    )
    lag = ConsumerLag(group)
    await consumer.start()
    try:
        read = 0
        deadline = asyncio.get_running_loop().time() + 30
        while read < 3 and asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=3)
            read += sum(len(records) for records in batches.values())
        assert read == 3
        tp = TopicPartition(topic, 0)
        assert consumer.highwater(tp) == 10
        await lag.update(consumer)
        assert lag_values(group) == {0: 7}

        while read < 10 and asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            read += sum(len(records) for records in batches.values())
        await lag.update(consumer)
        assert lag_values(group) == {0: 0}
    finally:
        await consumer.stop()
        lag.clear()
    assert lag_values(group) == {}
