"""`linkage bench`: pipeline throughput and latency next to the raw limits of this machine.

Everything is measured in the same run on the same machine: raw PostgreSQL commit rate (1 and 8
connections), raw Kafka produce/consume rate, then the whole pipeline (HTTP in → complaint stored →
case dispatched → counted) through real service processes. Figures are printed as ratios of the
raw limits. The load generator runs on the same cores as the services, so ratios are conservative.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer
from rich.console import Console
from rich.table import Table

from linkage.loadgen import get_many, post_json
from shared.db import sync_url
from shared.kafka import ensure_topics, make_producer
from shared.settings import Settings

console = Console()


@dataclass
class Results:
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    raw: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, value: str, ratio: str = "") -> None:
        self.rows.append((name, value, ratio))
        console.print(f"  {name}: {value} {ratio}")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def raw_postgres_commits(url: str, connections: int, seconds: float) -> float:
    setup = await asyncpg.connect(sync_url(url))
    await setup.execute("CREATE TABLE IF NOT EXISTS bench_commits (id bigserial primary key, v text)")
    await setup.close()
    stop = time.perf_counter() + seconds
    counts = [0] * connections

    async def worker(i: int) -> None:
        conn = await asyncpg.connect(sync_url(url))
        try:
            while time.perf_counter() < stop:
                await conn.execute("INSERT INTO bench_commits (v) VALUES ('x')")  # autocommit: one commit
                counts[i] += 1
        finally:
            await conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(connections)))
    return sum(counts) / (time.perf_counter() - started)


async def raw_kafka(settings: Settings, messages: int) -> tuple[float, float]:
    topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings, [topic], partitions=settings.partitions, exact=True)
    producer = make_producer(settings)
    await producer.start()
    payload = b"x" * 400
    started = time.perf_counter()
    futures = [await producer.send(topic, payload, key=str(i).encode()) for i in range(messages)]
    await asyncio.gather(*futures)
    produce_rate = messages / (time.perf_counter() - started)
    await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest",
                                group_id=f"bench-{uuid.uuid4().hex[:6]}", enable_auto_commit=False)
    await consumer.start()
    seen = 0
    started = time.perf_counter()
    while seen < messages:
        batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
        seen += sum(len(v) for v in batch.values())
        if time.perf_counter() - started > 60:
            break
    consume_rate = seen / (time.perf_counter() - started)
    await consumer.stop()
    return produce_rate, consume_rate


async def pipeline(
    intake_url: str, db_url: str, count: int, concurrency: int, headers: dict[str, str]
) -> dict[str, Any]:
    """File ``count`` hotline tickets (``headers``: the operator's X-API-Key) and time them to cases."""
    tag = f"bench-{uuid.uuid4().hex[:8]}"
    documents = [
        {"call_id": f"{tag}-{i}", "caller_phone": "13900000000", "kind": "投诉", "matter_code": "SZ003",
         "text": f"建设路{i % 200 + 1}号路灯不亮，晚上很黑", "address": f"成华区建设路{i % 200 + 1}号"}
        for i in range(count)
    ]
    started = time.perf_counter()
    load = await post_json(f"{intake_url}/api/v1/complaints", documents, concurrency, headers)
    errors = sum(1 for s in load.statuses if s not in (200, 201))
    conn = await asyncpg.connect(sync_url(db_url))
    try:
        while True:
            done = await conn.fetchval(
                "SELECT count(*) FROM dispatch.cases WHERE tracking_code IN "
                "(SELECT tracking_code FROM intake.complaints WHERE channel_key LIKE $1)", f"{tag}-%")
            if done >= count or time.perf_counter() - started > 300:
                break
            await asyncio.sleep(0.05)
        pipeline_elapsed = time.perf_counter() - started
        lags = await conn.fetch(
            "SELECT extract(epoch FROM c.created_at - i.received_at) AS lag FROM dispatch.cases c "
            "JOIN intake.complaints i ON i.tracking_code = c.tracking_code WHERE i.channel_key LIKE $1", f"{tag}-%")
    finally:
        await conn.close()
    lag_values = [float(r["lag"]) for r in lags]
    return {
        "count": count,
        "errors": errors,
        "cases": done,
        "http_rate": load.rate,
        "pipeline_rate": done / pipeline_elapsed,
        "p50": percentile(load.latencies, 0.50),
        "p95": percentile(load.latencies, 0.95),
        "p99": percentile(load.latencies, 0.99),
        "e2e_p50": percentile(lag_values, 0.50),
        "e2e_p95": percentile(lag_values, 0.95),
    }


def classification_quality(results: Results) -> None:
    from services.intake.classify.evaluate import DEFAULT_HELDOUT, evaluate

    if not os.path.exists(DEFAULT_HELDOUT):
        results.add("classification quality", "held-out set not found (run from a source checkout)")
        return
    scores = evaluate()
    n = scores["n"]
    results.add(f"classification: category macro-F1 (held-out, n={n})", f"{scores['category_macro_f1']:.3f}",
                f"top-3 accuracy {scores['category_top3_accuracy']:.3f}")
    results.add("classification: kind macro-F1 (held-out)", f"{scores['kind_macro_f1']:.3f}")
    results.add("classification: emergency recall / precision (held-out)",
                f"{scores['emergency_recall']:.3f} / {scores['emergency_precision']:.3f}")


def run_bench(count: int = 2000, concurrency: int = 32, seconds: float = 3.0) -> int:
    from linkage.harness import start_infra, start_stack, stop_infra
    from shared.migrations import upgrade_all

    results = Results()
    console.print(f"[bold]Linkage bench[/bold] on {os.cpu_count()} cores; starting PostgreSQL and the broker…")
    infra = start_infra()
    try:
        settings = infra.settings(partitions=12)
        upgrade_all(settings)
        console.print("[bold]Raw limits of this machine[/bold]")
        pg1 = asyncio.run(raw_postgres_commits(infra.database_url, 1, seconds))
        pg8 = asyncio.run(raw_postgres_commits(infra.database_url, 8, seconds))
        results.add("raw PostgreSQL single-row commits/s, 1 connection", f"{pg1:,.0f}")
        results.add("raw PostgreSQL single-row commits/s, 8 connections", f"{pg8:,.0f}")
        produce, consume = asyncio.run(raw_kafka(settings, 50_000))
        results.add("raw Kafka produce msg/s (acks=all, 400 B)", f"{produce:,.0f}")
        results.add("raw Kafka consume msg/s", f"{consume:,.0f}")

        console.print(f"[bold]Pipeline[/bold]: {count} hotline complaints, {concurrency} concurrent clients")
        stack = start_stack(infra)
        try:
            op = stack.operator_headers  # hotline tickets need an operator key
            asyncio.run(pipeline(stack.url("intake"), infra.database_url, 50, 8, op))  # warm-up
            http_limit = asyncio.run(get_many(f"{stack.url('intake')}/healthz", 5000, concurrency)).rate
            p = asyncio.run(pipeline(stack.url("intake"), infra.database_url, count, concurrency, op))
        finally:
            stack.stop()
        results.add("raw HTTP requests/s (intake GET /healthz, same load generator)", f"{http_limit:,.0f}")
        results.add("intake HTTP accepted complaints/s", f"{p['http_rate']:,.0f}",
                    f"= {p['http_rate'] / pg8:.2f} × raw 8-connection commits, "
                    f"{p['http_rate'] / http_limit:.2f} × raw HTTP")
        results.add("pipeline complaints/s (HTTP in → case dispatched)", f"{p['pipeline_rate']:,.0f}",
                    f"= {p['pipeline_rate'] / pg8:.2f} × raw 8-connection commits, "
                    f"{p['pipeline_rate'] / produce:.3f} × raw produce")
        results.add("intake POST latency p50 / p95 / p99",
                    f"{p['p50'] * 1000:.0f} / {p['p95'] * 1000:.0f} / {p['p99'] * 1000:.0f} ms")
        results.add("complaint received → case created p50 / p95",
                    f"{p['e2e_p50'] * 1000:.0f} / {p['e2e_p95'] * 1000:.0f} ms")
        results.add("errors / cases created", f"{p['errors']} / {p['cases']} of {p['count']}")
        classification_quality(results)
    finally:
        stop_infra(infra)
    print_table(results)
    return 0


def print_table(results: Results) -> None:
    table = Table(title="Linkage bench (same machine, same run)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("ratio to raw limit")
    for row in results.rows:
        table.add_row(*row)
    console.print(table)
