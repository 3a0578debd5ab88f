"""Checkpoints of the case history chains, kept outside the database.

A dispatch background job (:func:`run_checkpoints`) looks every ``audit_checkpoint_interval_s``
(default 30 s) for cases whose chain head moved since their last checkpoint (``cases.audit_seq <>
history_seq``, a partial index holds only those) and, for each, writes a signed record
``{case_id, seq, head_mac, at, sig_key, sig}``

* appended to ``<audit_checkpoint_dir>/checkpoints-YYYYMMDD.jsonl`` (one line per record, fsynced), and
* published on ``linkage.audit.checkpoints.v1`` (directly with the producer, not through the outbox).

``sig`` is an HMAC over the record with the audit key, so neither a database nor a file writer without
the key can forge one. ``linkage audit verify`` compares every chain with the latest checkpoint of its
case: a shorter chain is truncation, a different MAC at the checkpointed entry a rewritten chain, a
checkpointed case that is gone a deleted case.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.dispatch.case.history import Keyring
from shared.events.audit import AuditCheckpointV1
from shared.events.envelope import encode_event
from shared.logging import get_logger
from shared.settings import Settings
from shared.topics import AUDIT_CHECKPOINTS

if TYPE_CHECKING:
    from shared.app import ServiceRuntime

log = get_logger(__name__)

FILE_PREFIX = "checkpoints-"
_LOCK_KEY = 7_345_120_801  # one checkpoint writer at a time across dispatch replicas


@dataclass(frozen=True)
class Checkpoint:
    case_id: str
    seq: int
    head_mac: str
    at: str  # ISO 8601, UTC
    sig_key: str = ""
    sig: str = ""

    def unsigned(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "seq": self.seq,
            "head_mac": self.head_mac,
            "at": self.at,
            "sig_key": self.sig_key,
        }

    def signature(self, key: bytes) -> str:
        message = json.dumps(self.unsigned(), sort_keys=True, separators=(",", ":")).encode()
        return hmac.new(key, message, hashlib.sha256).hexdigest()

    def signed(self, keyring: Keyring) -> Checkpoint:
        unsigned = Checkpoint(self.case_id, self.seq, self.head_mac, self.at, keyring.current_id)
        return Checkpoint(**{**asdict(unsigned), "sig": unsigned.signature(keyring.current)})

    def valid(self, keyring: Keyring) -> bool:
        key = keyring.keys.get(self.sig_key)
        return key is not None and hmac.compare_digest(self.signature(key), self.sig)

    def line(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))


@dataclass
class CheckpointSet:
    """Every valid checkpoint by case and entry, the latest per case, and the lines failing their signature.

    A chain only ever grows, so every checkpoint ever taken must still match it: a later (forged or
    re-taken) checkpoint of a rewritten chain does not hide the earlier one.
    """

    latest: dict[str, Checkpoint] = field(default_factory=dict)
    marks: dict[str, dict[int, dict[str, str]]] = field(default_factory=dict)  # case -> seq -> mac -> first at
    invalid: list[str] = field(default_factory=list)
    records: int = 0
    first_at: str | None = None

    def add(self, cp: Checkpoint, keyring: Keyring, where: str) -> None:
        if not cp.valid(keyring):
            self.invalid.append(f"{where}: signature does not match (case {cp.case_id or '?'})")
            return
        self.records += 1
        if self.first_at is None or cp.at < self.first_at:
            self.first_at = cp.at
        known = self.latest.get(cp.case_id)
        if known is None or (cp.seq, cp.at) > (known.seq, known.at):
            self.latest[cp.case_id] = cp
        macs = self.marks.setdefault(cp.case_id, {}).setdefault(cp.seq, {})
        if cp.head_mac not in macs or cp.at < macs[cp.head_mac]:
            macs[cp.head_mac] = cp.at


def checkpoint_file(directory: Path, day: datetime) -> Path:
    return directory / f"{FILE_PREFIX}{day.astimezone(UTC):%Y%m%d}.jsonl"


def append_checkpoints(directory: Path, records: Sequence[Checkpoint], now: datetime) -> Path:
    """Append the records to today's file in one write and fsync it (append-only, never rewritten)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = checkpoint_file(directory, now)
    data = "".join(r.line() + "\n" for r in records).encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def _parse_line(raw: str) -> Checkpoint:
    data = json.loads(raw)
    return Checkpoint(
        case_id=str(data["case_id"]),
        seq=int(data["seq"]),
        head_mac=str(data["head_mac"]),
        at=str(data["at"]),
        sig_key=str(data.get("sig_key", "")),
        sig=str(data.get("sig", "")),
    )


def read_checkpoint_files(directory: Path, keyring: Keyring, into: CheckpointSet | None = None) -> CheckpointSet:
    found = into or CheckpointSet()
    if not directory.is_dir():
        return found
    for path in sorted(directory.glob(f"{FILE_PREFIX}*.jsonl")):
        with path.open(encoding="utf-8", errors="replace") as fh:
            for number, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                where = f"{path.name}:{number}"
                try:
                    cp = _parse_line(raw)
                except (ValueError, KeyError, TypeError):
                    found.invalid.append(f"{where}: not a checkpoint record")
                    continue
                found.add(cp, keyring, where)
    return found


async def read_checkpoint_topic(
    settings: Settings, keyring: Keyring, into: CheckpointSet | None = None, timeout_s: float = 30.0
) -> CheckpointSet:
    """Read ``linkage.audit.checkpoints.v1`` from the beginning up to its current end."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    found = into or CheckpointSet()
    topic = settings.topic(AUDIT_CHECKPOINTS)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in (consumer.partitions_for_topic(topic) or set())]
        if not partitions:
            await consumer.client.force_metadata_update()
            partitions = [TopicPartition(topic, p) for p in (consumer.partitions_for_topic(topic) or set())]
        if not partitions:
            return found
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        deadline = asyncio.get_running_loop().time() + timeout_s
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"reading {topic} took longer than {timeout_s} s")
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            for tp, messages in batches.items():
                for message in messages:
                    where = f"{topic}[{tp.partition}]@{message.offset}"
                    try:
                        cp = _parse_line(message.value.decode() if message.value else "null")
                    except (ValueError, KeyError, TypeError, AttributeError):
                        found.invalid.append(f"{where}: not a checkpoint record")
                        continue
                    found.add(cp, keyring, where)
    finally:
        await consumer.stop()
    return found


async def _pending_heads(engine: AsyncEngine, limit: int) -> list[tuple[str, int, str | None]]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT id, history_seq, history_hash FROM cases WHERE audit_seq <> history_seq "
                    "ORDER BY id LIMIT :n"
                ),
                {"n": limit},
            )
        ).all()
    return [(r[0], int(r[1]), r[2]) for r in rows]


async def _mark_checkpointed(engine: AsyncEngine, records: Sequence[Checkpoint]) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE cases AS c SET audit_seq = v.seq "
                "FROM unnest(CAST(:ids AS text[]), CAST(:seqs AS int[])) AS v(id, seq) "
                "WHERE c.id = v.id AND c.audit_seq < v.seq"
            ),
            {"ids": [r.case_id for r in records], "seqs": [r.seq for r in records]},
        )


async def publish_checkpoints(producer: AIOKafkaProducer, settings: Settings, records: Iterable[Checkpoint]) -> None:
    topic = settings.topic(AUDIT_CHECKPOINTS)
    futures = []
    for cp in records:
        payload = AuditCheckpointV1.model_validate(asdict(cp))
        headers, _value, _envelope = encode_event(payload, source="dispatch", subject=cp.case_id)
        futures.append(await producer.send(topic, value=cp.line().encode(), key=cp.case_id.encode(), headers=headers))
    await asyncio.gather(*futures)


async def checkpoint_once(
    settings: Settings,
    engine: AsyncEngine,
    producer: AIOKafkaProducer | None,
    keyring: Keyring,
    *,
    limit: int = 5000,
    now: datetime | None = None,
) -> int:
    """Checkpoint every case whose head moved since its last checkpoint; returns how many."""
    total = 0
    async with engine.connect() as lock_conn:
        if not await lock_conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": _LOCK_KEY}):
            return 0  # another replica is checkpointing right now
        await lock_conn.commit()
        try:
            while True:
                heads = await _pending_heads(engine, limit)
                if not heads:
                    break
                at = (now or datetime.now(UTC)).isoformat(timespec="microseconds")
                records = [Checkpoint(cid, seq, head or "", at).signed(keyring) for cid, seq, head in heads]
                await asyncio.to_thread(append_checkpoints, settings.audit_dir, records, now or datetime.now(UTC))
                if producer is not None:
                    await publish_checkpoints(producer, settings, records)
                await _mark_checkpointed(engine, records)
                total += len(records)
                if len(heads) < limit:
                    break
        finally:
            await lock_conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
            await lock_conn.commit()
    return total


async def run_checkpoints(runtime: ServiceRuntime) -> None:
    """Background job of the dispatch service: checkpoint moved heads every ``audit_checkpoint_interval_s``."""
    settings: Settings = runtime.settings
    keyring = Keyring.from_settings(settings)
    interval = settings.audit_checkpoint_interval_s
    log.info("audit checkpoints started", interval_s=interval, directory=str(settings.audit_dir))
    while True:
        try:
            written = await checkpoint_once(settings, runtime.engine, runtime.producer, keyring)
            if written:
                log.info("audit checkpoints written", cases=written)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - database or broker down: try again next round
            log.warning("audit checkpoint failed; retrying", error=repr(exc)[:500])
        await asyncio.sleep(interval)
