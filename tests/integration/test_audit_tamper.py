"""Tamper-evident case history: keyed chains plus checkpoints outside the database.

Cases are built through the real flows, checkpointed by the real job, then tampered with by SQL in
each way of issue #8 (edit a row; edit and recompute the chain with the project's own old hash
function; delete the last rows and move the case head; delete a whole case) — ``linkage audit
verify`` must name each, and nothing for untouched cases.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.dispatch.audit import audit
from services.dispatch.audit_checkpoints import (
    Checkpoint,
    CheckpointSet,
    checkpoint_once,
    read_checkpoint_files,
    read_checkpoint_topic,
)
from services.dispatch.case import flows, history
from services.dispatch.case.models import Case, CaseHistory
from services.dispatch.opening import open_cases
from shared.db import make_engine, make_sessionmaker
from shared.events.complaints import ComplaintReceivedV1, PlaceRef
from shared.kafka import make_producer
from shared.settings import Settings
from tests.support import REPO, Infra

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(settings, "dispatch", pool_size=3)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture
async def producer(settings: Settings) -> AsyncIterator[AIOKafkaProducer]:
    producer = make_producer(settings, client_id="test-audit")
    await producer.start()
    yield producer
    await producer.stop()


def _complaint() -> ComplaintReceivedV1:
    uid = uuid.uuid4().hex[:20].upper()
    return ComplaintReceivedV1(
        complaint_id=uid,
        tracking_code=f"T{uid[:12]}",
        channel="hotline",
        channel_key=uid,
        kind="投诉",
        text="小区门口每天早上都有人摆摊卖菜，人行道都走不通了",
        place=PlaceRef(street_code="S03", grid_code=f"G{uid[:8]}"),  # apart: no duplicate merging
        matter_code="CG001",
        received_at=datetime(2026, 9, 29, 2, 0, tzinfo=UTC),
    )


async def _build_case(maker: async_sessionmaker[AsyncSession]) -> str:
    """created, dispatched, signed, two progress notes: five keyed entries."""
    async with maker() as session:
        (case,) = await open_cases(session, [_complaint()])
        await session.commit()
        await flows.transition(session, case, "sign", actor="handler:S03")
        await flows.transition(session, case, "progress", actor="handler:S03", note="已到现场")
        await flows.transition(session, case, "progress", actor="handler:S03", note="已劝离摊贩")
        await session.commit()
        return case.id


async def _heads(engine: AsyncEngine, case_ids: list[str]) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(Case.id, Case.history_seq).where(Case.id.in_(case_ids)))
        return {r[0]: r[1] for r in rows}


async def _checkpointed(
    settings: Settings, engine: AsyncEngine, producer: AIOKafkaProducer, case_ids: list[str]
) -> CheckpointSet:
    """Run the checkpoint job until every case's current head is in the files (a running dispatch
    service of this test session may be the one that writes some of them)."""
    keyring = history.Keyring.from_settings(settings)
    heads = await _heads(engine, case_ids)
    for _ in range(100):
        await checkpoint_once(settings, engine, producer, keyring)
        found = read_checkpoint_files(settings.audit_dir, keyring)
        if all(c in found.latest and found.latest[c].seq == heads[c] for c in case_ids):
            return found
        await asyncio.sleep(0.2)
    raise AssertionError("the checkpoint job did not checkpoint the cases")


async def _rows(engine: AsyncEngine, case_id: str) -> list[CaseHistory]:
    async with make_sessionmaker(engine)() as session:
        result = await session.execute(
            select(CaseHistory).where(CaseHistory.case_id == case_id).order_by(CaseHistory.seq)
        )
        return list(result.scalars())


async def _recompute_with_old_hash(engine: AsyncEngine, case_id: str, *, drop_key_id: bool) -> None:
    """What the issue reproduced: edit entry #3, then rebuild the chain with ``history.chain_hash``."""
    rows = await _rows(engine, case_id)
    prev = history.GENESIS
    async with engine.begin() as conn:
        for row in rows:
            if row.seq == 3:
                row.reason = "已办结（改写）"
            digest = history.chain_hash(prev, history.row_body(row))
            await conn.execute(
                text(
                    "UPDATE case_history SET reason = :reason, prev_hash = :prev, hash = :hash"
                    + (", key_id = NULL" if drop_key_id else "")
                    + " WHERE id = :id"
                ),
                {"reason": row.reason, "prev": prev, "hash": digest, "id": row.id},
            )
            prev = digest
        await conn.execute(text("UPDATE cases SET history_hash = :h WHERE id = :c"), {"h": prev, "c": case_id})


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


async def _problems(settings: Settings) -> dict[str, set[str]]:
    report = await audit(settings)
    kinds: dict[str, set[str]] = {}
    for p in report.problems:
        kinds.setdefault(p.case_id, set()).add(p.kind)
    return kinds


async def test_verify_detects_every_kind_of_tampering_against_checkpoints(
    settings: Settings, engine: AsyncEngine, producer: AIOKafkaProducer, infra: Infra
) -> None:
    maker = make_sessionmaker(engine)
    names = ["untouched", "edited", "recomputed", "downgraded", "truncated", "emptied", "deleted"]
    ids = {name: await _build_case(maker) for name in names}
    rows = await _rows(engine, ids["untouched"])
    assert [r.key_id for r in rows] == [settings.audit_key_id] * 5  # keyed from the start
    assert rows[-1].hash != history.chain_hash(rows[-1].prev_hash, history.row_body(rows[-1]))

    cps = await _checkpointed(settings, engine, producer, list(ids.values()))
    assert all(cps.latest[c].seq == 5 for c in ids.values())
    before = await _problems(settings)
    assert not [n for n, c in ids.items() if c in before], before
    # the same checkpoints went to the topic, signed
    from_topic = await read_checkpoint_topic(settings, history.Keyring.from_settings(settings))
    assert {c: from_topic.latest[c].head_mac for c in ids.values()} == {c: cps.latest[c].head_mac for c in ids.values()}

    async with engine.begin() as conn:
        params = {"c": ids["edited"]}
        await conn.execute(text("UPDATE case_history SET reason = '改过' WHERE case_id = :c AND seq = 3"), params)
        params = {"c": ids["truncated"]}
        await conn.execute(text("DELETE FROM case_history WHERE case_id = :c AND seq > 3"), params)
        await conn.execute(
            text(
                "UPDATE cases SET history_seq = 3, history_hash = "
                "(SELECT hash FROM case_history WHERE case_id = :c AND seq = 3) WHERE id = :c"
            ),
            params,
        )
        params = {"c": ids["emptied"]}
        await conn.execute(text("DELETE FROM case_history WHERE case_id = :c"), params)
        await conn.execute(text("UPDATE cases SET history_seq = 0, history_hash = NULL WHERE id = :c"), params)
        params = {"c": ids["deleted"]}
        await conn.execute(text("DELETE FROM case_history WHERE case_id = :c"), params)
        await conn.execute(text("DELETE FROM cases WHERE id = :c"), params)
    await _recompute_with_old_hash(engine, ids["recomputed"], drop_key_id=False)
    await _recompute_with_old_hash(engine, ids["downgraded"], drop_key_id=True)
    # a checkpoint taken after the tampering does not hide the earlier ones
    await checkpoint_once(settings, engine, producer, history.Keyring.from_settings(settings))

    found = await _problems(settings)
    assert ids["untouched"] not in found
    assert "edited" in found[ids["edited"]]
    assert {"recomputed"} <= found[ids["recomputed"]]  # MACs replaced by plain hashes + checkpoint differs
    assert "recomputed" in found[ids["downgraded"]]  # a valid unkeyed chain, but not the checkpointed one
    assert found[ids["truncated"]] == {"truncated"}
    assert found[ids["emptied"]] == {"truncated"}
    assert found[ids["deleted"]] == {"case_deleted"}

    # the command: a readable table and exit 1; --json for machines
    env = infra.env() | {"COLUMNS": "250", "LINKAGE_AUDIT_CHECKPOINT_DIR": str(settings.audit_dir)}
    cli = [sys.executable, "-m", "linkage.cli", "audit", "verify"]
    proc = await asyncio.to_thread(_run, cli, env)
    assert proc.returncode == 1, proc.stderr
    assert "history verification FAILED" in proc.stderr
    for name in ("edited", "truncated", "deleted"):
        assert ids[name] in proc.stderr
    assert "deleted case" in proc.stderr and "recomputed chain" in proc.stderr
    proc = await asyncio.to_thread(_run, [*cli, "--json"], env)
    assert proc.returncode == 1
    body = json.loads(proc.stdout)
    assert body["ok"] is False
    kinds = {(p["case_id"], p["kind"]) for p in body["problems"]}
    assert (ids["deleted"], "case_deleted") in kinds and (ids["truncated"], "truncated") in kinds
    assert not [p for p in body["problems"] if p["case_id"] == ids["untouched"]]


async def test_legacy_unkeyed_rows_still_verify_and_keyed_entries_continue_them(
    settings: Settings, engine: AsyncEngine
) -> None:
    """Rows written before keying (sha256, key_id NULL) verify as legacy; new entries chain on with MACs."""
    maker = make_sessionmaker(engine)
    case_id = await _build_case(maker)
    rows = await _rows(engine, case_id)
    prev = history.GENESIS
    async with engine.begin() as conn:  # rewrite it as the pre-keying code wrote it, dated back then
        for row in rows:
            row.at = datetime(2025, 3, 1, 8, row.seq, tzinfo=UTC)
            digest = history.chain_hash(prev, history.row_body(row))
            await conn.execute(
                text("UPDATE case_history SET at = :at, prev_hash = :p, hash = :h, key_id = NULL WHERE id = :id"),
                {"at": row.at, "p": prev, "h": digest, "id": row.id},
            )
            prev = digest
        await conn.execute(text("UPDATE cases SET history_hash = :h WHERE id = :c"), {"h": prev, "c": case_id})
    report = await audit(settings, case_id)
    assert report.problems == [] and report.legacy_entries == 5
    async with maker() as session:
        case = await session.get(Case, case_id)
        assert case is not None
        await flows.transition(session, case, "reply", actor="handler:S03", text="已处理完毕，摊贩已劝离")
        await session.commit()
    rows = await _rows(engine, case_id)
    assert [r.key_id for r in rows][-1] == settings.audit_key_id and rows[-1].prev_hash == prev
    report = await audit(settings, case_id)
    assert report.problems == [] and report.legacy_entries == 5
    # an unkeyed entry after keyed ones is a chain rewritten without the key
    last = rows[-1]
    async with engine.begin() as conn:
        plain = history.chain_hash(last.prev_hash, history.row_body(last))
        await conn.execute(
            text("UPDATE case_history SET key_id = NULL, hash = :h WHERE id = :id"), {"h": plain, "id": last.id}
        )
        await conn.execute(text("UPDATE cases SET history_hash = :h WHERE id = :c"), {"h": plain, "c": case_id})
    assert {p.kind for p in (await audit(settings, case_id)).problems} == {"downgraded"}


async def test_forged_checkpoint_lines_and_a_wrong_key_are_reported(
    settings: Settings, engine: AsyncEngine, producer: AIOKafkaProducer, tmp_path: Path
) -> None:
    maker = make_sessionmaker(engine)
    case_id = await _build_case(maker)
    await _checkpointed(settings, engine, producer, [case_id])
    shutil.copytree(settings.audit_dir, tmp_path / "audit")
    keyring = history.Keyring.from_settings(settings)
    forged = Checkpoint(case_id, 9, "f" * 64, datetime.now(UTC).isoformat(), keyring.current_id, "0" * 64)
    with (tmp_path / "audit" / "checkpoints-20990101.jsonl").open("a") as fh:
        fh.write(forged.line() + "\n" + "not json\n")
    cps = read_checkpoint_files(tmp_path / "audit", keyring)
    report = await audit(settings, case_id, checkpoints=cps)
    assert [p.kind for p in report.problems] == ["checkpoint", "checkpoint"]  # the forged seq 9 is ignored
    # verifying with another key: every keyed MAC and every checkpoint signature fails
    other = settings.model_copy(update={"audit_key": "some-other-key"})
    report = await audit(other, case_id)
    kinds = {p.kind for p in report.problems}
    assert "edited" in kinds and "checkpoint" in kinds
