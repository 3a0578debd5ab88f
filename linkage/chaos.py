"""`linkage chaos`: inject single faults into a running system and count what was lost or doubled.

Every scenario files hotline complaints like a real client (retrying with the same call id, which makes
filing idempotent), injects one fault, waits — without restarting anything it did not kill itself — and
counts straight from PostgreSQL one case, one receipt and one analytics projection per acknowledged
complaint (:mod:`linkage.ledger`). Every non-2xx answer is recorded: during an outage only a JSON 503
with ``Retry-After`` is acceptable.

The same scenario functions back ``tests/reliability``. A scenario is a function ``(Target, Scale) -> Row``
listed in :data:`SCENARIOS`; the credential and forgery rows (authorization matrix, WeChat replays, survey
forgery, audit tampering) live in :mod:`linkage.chaos_security` and fill ``denied`` ("refused / tried").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from linkage.ledger import AnalyticsTotals, PipelineCounts, analytics_totals, count_pipeline, unsent_outbox_rows
from shared.settings import SERVICE_NAMES, Settings
from shared.topics import CASES, COMPLAINTS, FEEDBACK, dead_letter_topic

CONSUMER_GROUPS = {COMPLAINTS: ("dispatch",), CASES: ("notify", "analytics"), FEEDBACK: ("dispatch-feedback",)}
RETRY_CAP_S = 1.0


# ------------------------------------------------------------------------------------------------- targets
class Target(Protocol):
    """A running system faults can be injected into."""

    label: str
    urls: dict[str, str]
    database_url: str
    settings: Settings  # broker address, topic and group prefixes

    def hotline_headers(self) -> dict[str, str]: ...
    def can(self, fault: str) -> bool: ...  # "postgres", "pause", "kill", "broker"
    def stop_postgres(self) -> None: ...
    def start_postgres(self) -> None: ...
    def pause(self, service: str) -> None: ...
    def resume(self, service: str) -> None: ...
    def kill(self, service: str) -> None: ...  # SIGKILL; restarted on the same port (call from the main thread)
    def wait_ready(self, service: str) -> None: ...
    def restart_broker(self) -> None: ...  # call from the main thread


def _operator_headers(source: Any) -> dict[str, str]:
    """The hotline operator credential, once intake asks for one (the harness/manifest name it)."""
    key = getattr(source, "operator_key", None) or getattr(source, "operator_api_key", None)
    return {"X-API-Key": str(key)} if key else {}


class HarnessTarget:
    """A disposable system from :mod:`linkage.harness` (tests and ``linkage chaos --self-contained``)."""

    def __init__(self, infra: Any, stack: Any) -> None:
        self.infra = infra
        self.stack = stack
        self.label = "self-contained (harness)"
        self.urls = {name: svc.url for name, svc in stack.services.items()}
        self.database_url = infra.database_url
        self.settings = infra.settings()

    def hotline_headers(self) -> dict[str, str]:
        return _operator_headers(self.stack)  # the harness creates an operator account per stack

    def can(self, fault: str) -> bool:
        if fault == "postgres":
            return self.infra.postgres is not None
        if fault == "broker":
            return self.infra.broker is not None
        return True

    def stop_postgres(self) -> None:
        self.infra.stop_postgres(immediate=True)

    def start_postgres(self) -> None:
        self.infra.start_postgres()

    def pause(self, service: str) -> None:
        self.stack.services[service].pause()

    def resume(self, service: str) -> None:
        self.stack.services[service].resume()

    def kill(self, service: str) -> None:
        self.stack.services[service].kill_and_restart(wait=False)

    def wait_ready(self, service: str) -> None:
        self.stack.services[service].wait_ready()

    def restart_broker(self) -> None:
        self.infra.restart_broker()


class UpTarget:
    """The system `linkage up` runs (var/linkage-up.json); its supervisor restarts what we kill."""

    def __init__(self, var_dir: Path) -> None:
        manifest_path = var_dir / "linkage-up.json"
        if not manifest_path.exists():
            raise FileNotFoundError(f"{manifest_path} not found: start the system with `linkage up` first")
        self.var_dir = var_dir.resolve()
        self.manifest: dict[str, Any] = json.loads(manifest_path.read_text())
        self.label = f"linkage up ({self.var_dir})"
        self.urls = dict(self.manifest["services"])
        self.database_url = str(self.manifest["database_url"])
        self.settings = Settings(database_url=self.database_url, kafka_bootstrap=self.manifest["kafka_bootstrap"])
        pg_dir = self.manifest.get("postgres_data_dir") or str(self.var_dir / "pg")
        self.pg_dir = Path(pg_dir) if pg_dir and (Path(pg_dir) / "PG_VERSION").exists() else None
        self._postgres: Any = None

    def hotline_headers(self) -> dict[str, str]:
        """The demo operator's key: ``demo.intake.api_keys.operator.<username>`` in var/linkage-up.json."""
        keys = ((self.manifest.get("demo") or {}).get("intake") or {}).get("api_keys") or {}
        operators = keys.get("operator") or {}
        key = next(iter(operators.values()), None) if isinstance(operators, dict) else None
        return {"X-API-Key": str(key)} if key else {}

    def _processes(self) -> list[dict[str, Any]]:
        path = self.var_dir / "linkage-up.pids.json"
        return list(json.loads(path.read_text())) if path.exists() else []

    def _pid(self, role: str) -> int:
        for entry in self._processes():
            args = [str(a) for a in entry["args"]]
            if role == "broker" and len(args) > 1 and args[1] == "broker":
                return int(entry["pid"])
            if role != "broker" and "serve" in args and args[args.index("serve") + 1] == role:
                return int(entry["pid"])
        raise LookupError(f"no {role} process in {self.var_dir / 'linkage-up.pids.json'}")

    def can(self, fault: str) -> bool:
        if fault == "postgres":
            return self.pg_dir is not None
        with contextlib.suppress(LookupError):
            self._pid("broker" if fault == "broker" else "intake")
            return True
        return False

    def _pg(self) -> Any:
        if self._postgres is None:
            from linkage.infra import EmbeddedPostgres

            assert self.pg_dir is not None
            self._postgres = EmbeddedPostgres(self.pg_dir)
        return self._postgres

    def stop_postgres(self) -> None:
        self._pg().stop_now(immediate=True)

    def start_postgres(self) -> None:
        if not self._pg().is_running():
            self._pg().start_again()

    def pause(self, service: str) -> None:
        os.kill(self._pid(service), signal.SIGSTOP)

    def resume(self, service: str) -> None:
        os.kill(self._pid(service), signal.SIGCONT)

    def kill(self, service: str) -> None:
        old = self._pid(service)
        os.kill(old, signal.SIGKILL)
        _poll(lambda: self._pid(service) != old, 30, f"`linkage up` to restart {service}")

    def wait_ready(self, service: str) -> None:
        def ready() -> bool:
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(f"{self.urls[service]}/readyz", timeout=2).status_code == 200
            return False

        _poll(ready, 90, f"{service} ready")

    def restart_broker(self) -> None:
        old = self._pid("broker")
        os.kill(old, signal.SIGKILL)
        _poll(lambda: self._pid("broker") != old, 30, "`linkage up` to restart the broker")
        from linkage.infra import wait_for_port

        wait_for_port(int(self.settings.kafka_bootstrap.rsplit(":", 1)[1]))


def _poll(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(LookupError, OSError, ValueError):
            if predicate():
                return
        time.sleep(0.2)
    raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what}")


# ------------------------------------------------------------------------------------------------- results
@dataclass
class Scale:
    complaints: int = 120
    concurrency: int = 8
    outage_s: float = 12.0
    settle_s: float = 120.0


@dataclass
class Row:
    """One line of the chaos table."""

    scenario: str
    tried: int = 0
    accepted: int = 0
    lost: int = 0
    duplicated: int = 0
    server_errors: int = 0  # 5xx other than a JSON 503 with Retry-After
    unavailable: int = 0  # JSON 503s with Retry-After (the expected answer during an outage)
    dead_lettered: int | None = None  # records dead-lettered (0 expected for infrastructure faults)
    denied: str = "-"  # credential scenarios: "denied as expected / tried"
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    skipped: str = ""

    @property
    def ok(self) -> bool:
        return not self.skipped and not self.problems


@dataclass
class Answers:
    """Every answer the clients got, classified."""

    statuses: Counter[str] = field(default_factory=Counter)
    bad: list[str] = field(default_factory=list)  # descriptions of unacceptable answers
    server_errors: int = 0
    unavailable: int = 0
    transport_errors: int = 0
    refused: int = 0  # 4xx other than 429: the complaint was not accepted
    failures: Counter[str] = field(default_factory=Counter)  # transport errors by exception type

    def record(self, response: httpx.Response, path: str) -> None:
        ctype = response.headers.get("content-type", "")
        kind = "json" if ctype.startswith("application/json") else (ctype.split(";")[0] or "no body type")
        retry = "Retry-After" if "retry-after" in response.headers else "no Retry-After"
        self.statuses[f"{response.status_code} {kind}"] += 1
        if response.status_code < 400:
            return
        body = response.text[:160].replace("\n", " ")
        if response.status_code == 503 and kind == "json" and retry == "Retry-After":
            self.unavailable += 1
        elif response.status_code >= 500:
            self.server_errors += 1
            self.bad.append(f"{path}: {response.status_code} {kind} {retry}: {body}")
        elif response.status_code != 429:
            self.refused += 1
            self.bad.append(f"{path}: {response.status_code} {kind}: {body}")

    def transport(self, exc: Exception) -> None:
        """No HTTP answer at all (connection refused or reset, timeout)."""
        self.transport_errors += 1
        self.failures[type(exc).__name__] += 1

    def summary(self) -> str:
        return ", ".join(f"{k}×{n}" for k, n in sorted(self.statuses.items())) + (
            f", no answer×{self.transport_errors} ({dict(self.failures)})" if self.transport_errors else ""
        )


# --------------------------------------------------------------------------------------------- the client
TEXTS = ("路灯不亮，晚上很黑", "井盖松动有响声", "垃圾桶满了没人清运", "人行道地砖破损", "小区门口占道经营")


class Hotline:
    """Files hotline tickets and retries each with the same call id until it is acknowledged."""

    def __init__(self, target: Target, answers: Answers, *, give_up_s: float = 150.0) -> None:
        self.url = f"{target.urls['intake']}/api/v1/complaints"
        self.headers = target.hotline_headers()
        self.answers = answers
        self.give_up_s = give_up_s
        self.acknowledged = 0
        self._waiters: list[tuple[int, asyncio.Event]] = []

    def body(self, call_id: str, i: int) -> dict[str, str]:
        return {
            "call_id": call_id,
            "caller_phone": f"139{i % 100000000:08d}",
            "text": f"{TEXTS[i % len(TEXTS)]}（可靠性测试第{i}号）",
            "kind": "投诉",
            "matter_code": "SZ003",
        }

    async def file(self, client: httpx.AsyncClient, call_id: str, i: int) -> str | None:
        deadline = time.monotonic() + self.give_up_s
        while time.monotonic() < deadline:
            try:
                r = await client.post(self.url, json=self.body(call_id, i), headers=self.headers)
            except httpx.HTTPError as exc:
                self.answers.transport(exc)
                await asyncio.sleep(0.3)
                continue
            self.answers.record(r, "POST /api/v1/complaints")
            if r.status_code in (200, 201):
                self._acknowledge()
                return str(r.json()["id"])
            if 400 <= r.status_code < 500 and r.status_code != 429:
                return None  # refused: not accepted, not retried
            await asyncio.sleep(min(RETRY_CAP_S, _retry_after(r)))
        return None

    async def file_many(
        self, tag: str, count: int, concurrency: int, faults: Sequence[Callable[[], Awaitable[None]]] = ()
    ) -> list[str]:
        """File ``count`` tickets; ``faults`` run concurrently (they watch :attr:`acknowledged`)."""
        sem = asyncio.Semaphore(concurrency)

        async def one(i: int, client: httpx.AsyncClient) -> str | None:
            async with sem:
                return await self.file(client, f"{tag}-{i}", i)

        async with httpx.AsyncClient(timeout=15) as client:
            results = await asyncio.gather(*(one(i, client) for i in range(count)), *(f() for f in faults))
        return [r for r in results[:count] if isinstance(r, str)]

    def _acknowledge(self) -> None:
        self.acknowledged += 1
        for n, event in self._waiters:
            if self.acknowledged >= n:
                event.set()

    async def when_acknowledged(self, n: int) -> None:
        """Return once ``n`` tickets are acknowledged (where a fault is injected)."""
        event = asyncio.Event()
        self._waiters.append((n, event))
        if self.acknowledged >= n:
            event.set()
        await event.wait()


def _retry_after(response: httpx.Response) -> float:
    with contextlib.suppress(ValueError):
        return max(0.1, float(response.headers.get("retry-after", "0.3")))
    return 0.3


# ---------------------------------------------------------------------------------------- settling, DLQs
async def settle(target: Target, ids: Sequence[str], timeout_s: float, grace_s: float = 3.0) -> PipelineCounts:
    """Wait until every complaint has its case, receipt and projection (or time out); then count again."""
    deadline = time.monotonic() + timeout_s
    counts: PipelineCounts | None = None
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, asyncio.TimeoutError, Exception):
            counts = await count_pipeline(target.database_url, ids)
            if counts.settled:
                await asyncio.sleep(grace_s)  # late duplicates show up here
                return await count_pipeline(target.database_url, ids)
        await asyncio.sleep(1.0)
    return counts if counts is not None else await count_pipeline(target.database_url, ids)


def dlq_topics(settings: Settings) -> list[str]:
    return [
        dead_letter_topic(settings.topic(topic), settings.group(group))
        for topic, groups in CONSUMER_GROUPS.items()
        for group in groups
    ]


async def dlq_total(settings: Settings) -> int:
    """Records on every dead-letter topic (end offsets; a missing topic counts 0)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        total = 0
        for topic in dlq_topics(settings):
            parts = await consumer._client.fetch_all_metadata()  # noqa: SLF001 - fresh metadata, no group
            partitions = parts.partitions_for_topic(topic) or set()
            if partitions:
                ends = await consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
                total += sum(ends.values())
        return total
    finally:
        await consumer.stop()


async def read_topic(settings: Settings, topic: str) -> list[Any]:
    """Every record on ``topic`` right now (no consumer group)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=16 * 1024 * 1024,
        fetch_max_bytes=32 * 1024 * 1024,
    )
    await consumer.start()
    try:
        meta = await consumer._client.fetch_all_metadata()  # noqa: SLF001
        partitions = [TopicPartition(topic, p) for p in meta.partitions_for_topic(topic) or ()]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[Any] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            positions = [await consumer.position(tp) for tp in partitions]
            if all(pos >= ends[tp] for pos, tp in zip(positions, partitions, strict=True)):
                break
            batch = await consumer.getmany(timeout_ms=500)
            for recs in batch.values():
                records.extend(recs)
        return records
    finally:
        await consumer.stop()


def header(record: Any, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode("utf-8", "replace")
    return None


# ------------------------------------------------------------------------------------------------ scenarios
ScenarioFn = Callable[[Target, Scale], Row]
SCENARIOS: list[tuple[str, ScenarioFn]] = []


def scenario(name: str) -> Callable[[ScenarioFn], ScenarioFn]:
    """Register a chaos table row (credential/forgery checks plug in here too)."""

    def register(fn: ScenarioFn) -> ScenarioFn:
        SCENARIOS.append((name, fn))
        return fn

    return register


def _finish(row: Row, answers: Answers, ids: list[str], counts: PipelineCounts, before: AnalyticsTotals) -> Row:
    row.accepted = len(set(ids))
    row.lost = counts.lost
    row.duplicated = counts.duplicated(before) + max(0, counts.intake_rows - len(set(ids)))
    row.server_errors += answers.server_errors
    row.unavailable += answers.unavailable
    if row.accepted < row.tried:
        row.problems.append(f"only {row.accepted} of {row.tried} complaints were acknowledged ({answers.summary()})")
    if row.lost:
        row.problems.append(f"lost: {counts.summary()}")
    if row.duplicated:
        row.problems.append(
            f"duplicated {row.duplicated}: {counts.summary()}; analytics {counts.analytics} vs before {before}"
        )
    row.problems.extend(f"bad answer {b}" for b in dict.fromkeys(answers.bad))
    return row


def _check_dead_letters(row: Row, settings: Settings, before: int) -> None:
    after = asyncio.run(dlq_total(settings))
    row.dead_lettered = max(0, after - before)
    if row.dead_lettered:
        row.problems.append(f"{row.dead_lettered} record(s) dead-lettered by an infrastructure fault")


def _timed(fn: ScenarioFn) -> ScenarioFn:
    def run(target: Target, scale: Scale) -> Row:
        started = time.monotonic()
        row = fn(target, scale)
        row.seconds = time.monotonic() - started
        return row

    run.__name__ = fn.__name__
    run.__doc__ = fn.__doc__
    return run


def _tag(kind: str) -> str:
    return f"chaos-{kind}-{uuid.uuid4().hex[:8]}"


@scenario("PostgreSQL stopped while complaints flow")
@_timed
def postgres_outage_under_load(target: Target, scale: Scale) -> Row:
    """Stop PostgreSQL (immediate) for ``outage_s`` while clients keep filing; nothing is restarted."""
    row = Row("PostgreSQL stopped while complaints flow", tried=scale.complaints)
    if not target.can("postgres"):
        row.skipped = "needs the embedded PostgreSQL"
        return row
    answers = Answers()
    hotline = Hotline(target, answers)
    before = asyncio.run(analytics_totals(target.database_url))
    dlq_before = asyncio.run(dlq_total(target.settings))

    async def outage() -> None:
        await hotline.when_acknowledged(scale.complaints // 3)
        await asyncio.to_thread(target.stop_postgres)
        try:
            await asyncio.sleep(scale.outage_s)
        finally:
            await asyncio.to_thread(target.start_postgres)

    async def run() -> tuple[list[str], PipelineCounts]:
        ids = await hotline.file_many(_tag("pg-flow"), scale.complaints, scale.concurrency, [outage])
        return ids, await settle(target, ids, scale.settle_s)

    ids, counts = asyncio.run(run())
    if answers.transport_errors:
        row.problems.append(f"intake did not answer during the outage: {answers.summary()}")
    if not answers.unavailable:
        row.problems.append("no JSON 503 seen: was PostgreSQL really down while complaints were filed?")
    _check_dead_letters(row, target.settings, dlq_before)
    return _finish(row, answers, ids, counts, before)


@scenario("PostgreSQL stopped while a backlog is consumed")
@_timed
def postgres_outage_during_backlog(target: Target, scale: Scale) -> Row:
    """Pause dispatch, file a backlog, let intake publish it, stop PostgreSQL, resume dispatch, start PostgreSQL
    again after ``outage_s``, file more: every complaint becomes a case (issue #8, finding 1)."""
    row = Row("PostgreSQL stopped while a backlog is consumed", tried=scale.complaints)
    if not (target.can("postgres") and target.can("pause")):
        row.skipped = "needs the embedded PostgreSQL and the dispatch process"
        return row
    answers = Answers()
    hotline = Hotline(target, answers)
    before = asyncio.run(analytics_totals(target.database_url))
    dlq_before = asyncio.run(dlq_total(target.settings))
    first = scale.complaints * 2 // 3
    tag = _tag("pg-backlog")

    async def run() -> tuple[list[str], PipelineCounts]:
        target.pause("dispatch")
        try:
            ids = await hotline.file_many(tag + "-a", first, scale.concurrency)
            await _wait_outbox_empty(target)
            await asyncio.to_thread(target.stop_postgres)
        finally:
            target.resume("dispatch")
        try:
            await asyncio.sleep(scale.outage_s)
        finally:
            await asyncio.to_thread(target.start_postgres)
        ids += await hotline.file_many(tag + "-b", scale.complaints - first, scale.concurrency)
        return ids, await settle(target, ids, scale.settle_s)

    ids, counts = asyncio.run(run())
    _check_dead_letters(row, target.settings, dlq_before)
    return _finish(row, answers, ids, counts, before)


async def _wait_outbox_empty(target: Target, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if await unsent_outbox_rows(target.database_url, "intake") == 0:
                return
        await asyncio.sleep(0.2)
    raise TimeoutError("intake's outbox was not emptied (is the relay running?)")


def kill_service_under_load(service: str) -> ScenarioFn:
    @_timed
    def run_scenario(target: Target, scale: Scale) -> Row:
        row = Row(f"kill -9 {service} under load", tried=max(30, scale.complaints // 3))
        if not target.can("kill"):
            row.skipped = "needs the service processes"
            return row
        answers = Answers()
        hotline = Hotline(target, answers)
        before = asyncio.run(analytics_totals(target.database_url))
        dlq_before = asyncio.run(dlq_total(target.settings))

        async def crash() -> None:
            await hotline.when_acknowledged(row.tried // 3)
            target.kill(service)  # main thread: the child dies with us (PR_SET_PDEATHSIG)
            await asyncio.to_thread(target.wait_ready, service)

        async def run() -> tuple[list[str], PipelineCounts]:
            ids = await hotline.file_many(_tag(f"kill-{service}"), row.tried, scale.concurrency, [crash])
            return ids, await settle(target, ids, scale.settle_s)

        ids, counts = asyncio.run(run())
        if service != "intake" and answers.transport_errors:
            row.problems.append(f"intake did not answer while {service} died: {answers.summary()}")
        _check_dead_letters(row, target.settings, dlq_before)
        return _finish(row, answers, ids, counts, before)

    run_scenario.__name__ = f"kill_{service}_under_load"
    return run_scenario


for _service in SERVICE_NAMES:
    scenario(f"kill -9 {_service} under load")(kill_service_under_load(_service))


@scenario("broker restarted mid-stream")
@_timed
def broker_restart_mid_stream(target: Target, scale: Scale) -> Row:
    """The embedded broker restarts (forgetting every topic) while complaints flow; outboxes re-publish."""
    row = Row("broker restarted mid-stream", tried=scale.complaints)
    if not target.can("broker"):
        row.skipped = "needs the embedded broker"
        return row
    answers = Answers()
    hotline = Hotline(target, answers)
    before = asyncio.run(analytics_totals(target.database_url))

    async def restart() -> None:
        await hotline.when_acknowledged(scale.complaints // 3)
        target.restart_broker()  # main thread (the new broker dies with us)

    async def run() -> tuple[list[str], PipelineCounts]:
        ids = await hotline.file_many(_tag("broker"), scale.complaints, scale.concurrency, [restart])
        return ids, await settle(target, ids, max(scale.settle_s, 180.0))

    ids, counts = asyncio.run(run())
    if answers.transport_errors:
        row.problems.append(f"intake did not answer during the broker restart: {answers.summary()}")
    return _finish(row, answers, ids, counts, before)  # a new broker has new (empty) dead-letter topics


# --------------------------------------------------------------------------------------------------- poison
@dataclass
class Poison:
    kind: str
    headers: list[tuple[str, bytes]]
    value: bytes
    oversized: bool = False  # too large for the dead-letter topic: a reference there, the bytes in a table
    complaint_id: str | None = None  # a well-formed complaint the database may refuse (or the handler may clean)
    partition: int = -1
    offset: int = -1


def _ce_headers(event_type: str) -> list[tuple[str, bytes]]:
    from datetime import UTC, datetime

    from shared.events.envelope import new_event_id

    return [
        ("ce_specversion", b"1.0"),
        ("ce_id", new_event_id().encode()),
        ("ce_source", b"/linkage/chaos"),
        ("ce_type", event_type.encode()),
        ("ce_time", datetime.now(UTC).isoformat().encode()),
        ("content-type", b"application/json"),
    ]


def poison_records(size_mb: int = 5) -> list[Poison]:
    from datetime import UTC, datetime

    from shared.events.complaints import ComplaintReceivedV1, Reporter
    from shared.events.envelope import new_event_id

    received = "cn.linkage.complaint.received.v1"
    nul = ComplaintReceivedV1(
        complaint_id=new_event_id(),
        tracking_code=f"X{uuid.uuid4().hex[:10].upper()}",
        channel="hotline",
        channel_key=_tag("nul"),
        text="路灯\x00不亮",
        reporter=Reporter(phone="13900000000"),
        received_at=datetime.now(UTC),
    )
    padding = json.dumps({"padding": "诉" * (size_mb * 1024 * 1024 // 3)}).encode()
    return [
        Poison("bytes that are not a CloudEvent", [], b"\xff\x00not a cloud event\x01"),
        Poison("valid envelope, invalid payload", _ce_headers(received), b'{"complaint_id": 42, "text": null}'),
        Poison("unknown event type", _ce_headers("cn.linkage.complaint.teleported.v1"), b'{"complaint_id": "x"}'),
        Poison("body is not JSON", _ce_headers(received), b"{not json"),
        Poison(f"{size_mb} MB record", _ce_headers(received), padding, oversized=True),
        Poison(
            "text the database refuses (NUL)",
            _ce_headers(received),
            nul.model_dump_json().encode(),
            complaint_id=nul.complaint_id,
        ),
    ]


async def _produce(settings: Settings, topic: str, records: list[Poison]) -> list[str]:
    notes: list[str] = []
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        max_request_size=16 * 1024 * 1024,
        enable_idempotence=False,
        acks="all",
    )
    await producer.start()
    try:
        for p in records:
            try:
                meta = await producer.send_and_wait(topic, value=p.value, headers=p.headers)
            except Exception as exc:  # noqa: BLE001 - the broker's size limit decides
                notes.append(f"the broker refused the {p.kind}: {exc!r}")
                continue
            p.partition, p.offset = meta.partition, meta.offset
    finally:
        await producer.stop()
    return notes


async def _dead_letter_rows(database_url: str, topic: str, partition: int, offset: int) -> int | None:
    import asyncpg

    from shared.db import sync_url

    conn = await asyncpg.connect(sync_url(database_url), timeout=5)
    try:
        if not await conn.fetchval("SELECT to_regclass('dispatch.dead_letters') IS NOT NULL"):
            return None
        return int(
            await conn.fetchval(
                'SELECT count(*) FROM dispatch.dead_letters WHERE partition = $1 AND "offset" = $2 '
                "AND (topic = $3 OR $3 LIKE '%' || topic)",
                partition,
                offset,
                topic,
            )
        )
    finally:
        await conn.close()


@scenario("poison records on the complaints topic")
@_timed
def poison_on_complaints_topic(target: Target, scale: Scale) -> Row:
    """Each kind of poison is dead-lettered exactly once with its origin; good complaints after it flow."""
    row = Row("poison records on the complaints topic")
    settings = target.settings
    topic = settings.topic(COMPLAINTS)
    dlq = dead_letter_topic(topic, settings.group("dispatch"))
    records = poison_records()
    answers = Answers()
    hotline = Hotline(target, answers)
    good = max(20, scale.complaints // 4)
    row.tried = good + len(records)
    before = asyncio.run(analytics_totals(target.database_url))

    async def run() -> tuple[list[str], PipelineCounts, list[Any]]:
        row.problems.extend(await _produce(settings, topic, records))
        ids = await hotline.file_many(_tag("after-poison"), good, scale.concurrency)
        counts = await settle(target, ids, scale.settle_s)
        sent = [p for p in records if p.offset >= 0 and p.complaint_id is None]
        deadline = time.monotonic() + 60
        while True:
            seen = await read_topic(settings, dlq)
            found = {(header(r, "dlq_original_partition"), header(r, "dlq_original_offset")) for r in seen}
            if all((str(p.partition), str(p.offset)) in found for p in sent) or time.monotonic() > deadline:
                await asyncio.sleep(2.0)  # a second copy would arrive now
                return ids, counts, await read_topic(settings, dlq)
            await asyncio.sleep(1.0)

    ids, counts, dead = asyncio.run(run())
    row.dead_lettered = 0
    for p in (p for p in records if p.offset >= 0):
        copies = [
            r
            for r in dead
            if header(r, "dlq_original_topic") == topic
            and header(r, "dlq_original_partition") == str(p.partition)
            and header(r, "dlq_original_offset") == str(p.offset)
        ]
        row.dead_lettered += len(copies)
        if p.complaint_id is not None:
            cases = asyncio.run(count_pipeline(target.database_url, [p.complaint_id])).cases.get(p.complaint_id, 0)
            if len(copies) + cases != 1:
                row.problems.append(f"{p.kind}: {len(copies)} dead letter(s) and {cases} case(s); expected one of them")
            continue
        if len(copies) != 1:
            row.problems.append(
                f"{p.kind} (partition {p.partition}, offset {p.offset}): dead-lettered "
                f"{len(copies)} time(s), expected once"
            )
            row.lost += len(copies) == 0
            row.duplicated += max(0, len(copies) - 1)
            continue
        if not p.oversized and bytes(copies[0].value or b"") != p.value:
            row.problems.append(f"{p.kind}: the dead-letter copy differs from the original record")
        if p.oversized:
            stored = asyncio.run(_dead_letter_rows(target.database_url, topic, p.partition, p.offset))
            if not stored:
                row.problems.append(
                    f"{p.kind}: not kept in dispatch.dead_letters ({'no such table' if stored is None else 'no row'})"
                )
    row.tried = good  # complaints first, then the poison records the broker took (each accounted for above)
    finished = _finish(row, answers, ids, counts, before)
    finished.tried += len(records)
    finished.accepted += sum(1 for p in records if p.offset >= 0)
    return finished


# -------------------------------------------------------------------------------------- endpoints in outage
DUMMY = "01JCHAOS000000000000000000"
SKIP_PATHS = ("/metrics", "/docs", "/redoc", "/openapi.json")


async def _probes(client: httpx.AsyncClient, base: str) -> list[tuple[str, str]]:
    spec = (await client.get(f"{base}/openapi.json")).json()
    probes: list[tuple[str, str]] = []
    for path, methods in sorted(spec.get("paths", {}).items()):
        if path.startswith(SKIP_PATHS):
            continue
        concrete = path
        for part in path.split("/"):
            if part.startswith("{") and part.endswith("}"):
                concrete = concrete.replace(part, DUMMY)
        probes.extend((m.upper(), concrete) for m in methods if m in ("get", "post", "put", "patch", "delete"))
    return probes


async def _probe(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response | str:
    try:
        async with client.stream(method, url, **kwargs) as response:
            if "text/event-stream" not in response.headers.get("content-type", ""):
                await response.aread()  # an endless stream (SSE) is judged by its status and headers
            return response
    except httpx.HTTPError as exc:
        return repr(exc)


def _readyz_report(response: httpx.Response | str) -> tuple[int, str]:
    if isinstance(response, str):
        return 0, response
    return response.status_code, response.text[:300]


@scenario("PostgreSQL down: JSON 503 everywhere, /readyz recovers by itself")
@_timed
def endpoints_during_postgres_outage(target: Target, scale: Scale) -> Row:
    row = Row("PostgreSQL down: JSON 503 everywhere, /readyz recovers by itself")
    if not target.can("postgres"):
        row.skipped = "needs the embedded PostgreSQL"
        return row
    answers = Answers()
    hotline = Hotline(target, answers)
    before = asyncio.run(analytics_totals(target.database_url))
    probe_answers = Answers()

    async def outage() -> None:
        async with httpx.AsyncClient(timeout=8) as client:
            probes = {name: await _probes(client, url) for name, url in target.urls.items()}
            await asyncio.to_thread(target.stop_postgres)
            try:
                await _check_outage(client, probes)
            finally:
                await asyncio.to_thread(target.start_postgres)
            await _check_recovery(client)

    async def _check_outage(client: httpx.AsyncClient, probes: dict[str, list[tuple[str, str]]]) -> None:
        intake = target.urls["intake"]
        deadline = time.monotonic() + 30
        status, body = 0, ""
        while time.monotonic() < deadline:
            status, body = _readyz_report(await _probe(client, "GET", f"{intake}/readyz"))
            if status == 503:
                break
            await asyncio.sleep(0.3)
        for name, base in target.urls.items():
            response = await _probe(client, "GET", f"{base}/readyz")
            status, body = _readyz_report(response)
            if status != 503 or not isinstance(response, httpx.Response):
                row.problems.append(f"{name} /readyz answered {status} while PostgreSQL was down: {body}")
                continue
            report = response.json() if "json" in response.headers.get("content-type", "") else {}
            if report.get("ok") is not False or "database" not in body:
                row.problems.append(f"{name} /readyz does not say the database is down: {body}")
        filed = await _probe(
            client,
            "POST",
            f"{intake}/api/v1/complaints",
            headers=hotline.headers,
            json=hotline.body(_tag("outage-probe"), 0),
        )
        if isinstance(filed, str) or filed.status_code != 503 or "retry-after" not in filed.headers:
            row.problems.append(f"filing during the outage: {_readyz_report(filed)} (expected a JSON 503)")
        for name, items in probes.items():
            for method, path in items:
                kwargs: dict[str, Any] = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
                response = await _probe(client, method, f"{target.urls[name]}{path}", **kwargs)
                row.tried += 1
                if isinstance(response, str):
                    row.problems.append(f"{name} {method} {path}: no answer during the outage ({response})")
                elif path == "/readyz" and response.status_code == 503:
                    continue  # judged above (a probe for orchestrators, not for clients to retry)
                else:
                    probe_answers.record(response, f"{name} {method} {path}")

    async def _check_recovery(client: httpx.AsyncClient) -> None:
        deadline = time.monotonic() + 90
        pending = dict(target.urls)
        last: dict[str, tuple[int, str]] = {}
        while pending and time.monotonic() < deadline:
            for name, base in list(pending.items()):
                last[name] = _readyz_report(await _probe(client, "GET", f"{base}/readyz"))
                if last[name][0] == 200:
                    pending.pop(name)
            await asyncio.sleep(0.5)
        for name in pending:
            row.problems.append(f"{name} /readyz not 200 within 90 s after PostgreSQL came back: {last[name]}")

    good = max(20, scale.complaints // 6)

    async def run() -> tuple[list[str], PipelineCounts]:
        await outage()
        ids = await hotline.file_many(_tag("after-outage"), good, scale.concurrency)
        return ids, await settle(target, ids, scale.settle_s)

    ids, counts = asyncio.run(run())
    row.server_errors += probe_answers.server_errors
    row.unavailable += probe_answers.unavailable
    row.problems.extend(f"bad answer {b}" for b in probe_answers.bad if " 5" in b.split(":")[1][:3])
    if not probe_answers.unavailable:
        row.problems.append("no endpoint answered a JSON 503 during the outage")
    probed, row.tried = row.tried, good  # the complaints filed after the outage, then the endpoint probes
    finished = _finish(row, answers, ids, counts, before)
    finished.tried += probed
    finished.accepted += probed - sum(1 for p in finished.problems if "no answer during the outage" in p)
    return finished


# ------------------------------------------------------------------------------------------------- the CLI
def select(names: Sequence[str] | None) -> list[tuple[str, ScenarioFn]]:
    if not names:
        return list(SCENARIOS)
    chosen = [(n, fn) for n, fn in SCENARIOS if any(w.lower() in n.lower() for w in names)]
    if not chosen:
        raise ValueError(f"no scenario matches {', '.join(names)}; known: {'; '.join(n for n, _ in SCENARIOS)}")
    return chosen


def table(rows: Sequence[Row], title: str) -> Any:
    from rich.table import Table

    out = Table(title=title)
    for col in (
        "scenario",
        "tried",
        "accepted",
        "lost",
        "duplicated",
        "5xx",
        "JSON 503",
        "dead-lettered",
        "denied-as-expected",
        "s",
        "result",
    ):
        out.add_column(col, justify="left" if col in ("scenario", "result") else "right")
    for r in rows:
        result = (
            f"[yellow]skipped: {r.skipped}[/yellow]"
            if r.skipped
            else ("[green]ok[/green]" if r.ok else "[red]FAIL[/red]")
        )
        out.add_row(
            r.scenario,
            str(r.tried),
            *(("n/a",) * 3 if r.denied != "-" else (str(r.accepted), str(r.lost), str(r.duplicated))),
            str(r.server_errors),
            "n/a" if r.denied != "-" else str(r.unavailable),
            "-" if r.dead_lettered is None else str(r.dead_lettered),
            r.denied,
            f"{r.seconds:.0f}",
            result,
        )
    return out


def run_chaos(*, self_contained: bool, var_dir: Path, names: Sequence[str] | None, scale: Scale) -> int:
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console()
    chosen = select(names)
    cleanup: Callable[[], None] = lambda: None  # noqa: E731
    rows: list[Row] = []
    try:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task("preparing the target", total=len(chosen))
            target: Target
            if self_contained:
                target, cleanup = _disposable_target()
            else:
                target = UpTarget(var_dir)
            for name, fn in chosen:
                bar.update(task, description=name)
                try:
                    rows.append(fn(target, scale))
                except Exception as exc:  # noqa: BLE001 - one broken scenario is a failed row, not a crash
                    rows.append(Row(name, problems=[f"scenario crashed: {exc!r}"]))
                bar.advance(task)
    finally:
        cleanup()
    console.print(table(rows, f"Chaos table ({'self-contained' if self_contained else var_dir})"))
    for r in rows:
        for problem in r.problems:
            console.print(f"[red]{r.scenario}[/red]: {problem[:400]}")
    return 0 if all(r.ok or r.skipped for r in rows) else 1


def _disposable_target() -> tuple[Target, Callable[[], None]]:
    from linkage.harness import start_infra, start_stack, stop_infra
    from shared.migrations import upgrade_all

    infra = start_infra()
    try:
        upgrade_all(infra.settings())
        stack = start_stack(infra)
    except BaseException:  # also SIGTERM / Ctrl-C (KeyboardInterrupt) while starting
        stop_infra(infra)
        raise

    def cleanup() -> None:
        stack.stop()
        stop_infra(infra)

    return HarnessTarget(infra, stack), cleanup


# Security rows (credentials matrix, WeChat replays, survey forgery, audit tampering) register themselves.
from linkage import chaos_security  # noqa: E402, F401
