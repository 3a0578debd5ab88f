"""``linkage audit``: check the tamper-evident case history; ``linkage keys``: manage API keys."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select, text

from services.dispatch.audit_checkpoints import (
    CheckpointSet,
    checkpoint_once,
    read_checkpoint_files,
    read_checkpoint_topic,
)
from services.dispatch.case.history import ChainProblem, ChainReport, Keyring, verify_case
from services.dispatch.case.models import Case, CaseHistory
from shared.db import make_engine, make_sessionmaker
from shared.settings import Settings, get_settings

app = typer.Typer(help="Audit the hash-chained case history.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys of department clients, dispatchers and admins.", no_args_is_help=True)


@dataclass
class AuditReport:
    problems: list[ChainProblem] = field(default_factory=list)
    cases: int = 0
    entries: int = 0
    legacy_entries: int = 0
    checkpoints: int = 0
    checkpointed_cases: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def compare_with_checkpoints(
    report: ChainReport, rows: list[CaseHistory], marks: dict[int, dict[str, str]]
) -> list[ChainProblem]:
    """The stored chain against every checkpoint of its case written outside the database."""
    cid = report.case_id
    problems: list[ChainProblem] = []
    longest = max(marks)
    if report.length < longest:
        at = min(marks[longest].values())
        problems.append(
            ChainProblem(
                cid,
                report.length + 1,
                None,
                f"history has {report.length} entries, the checkpoint of {at} recorded {longest}",
                "truncated",
            )
        )
    by_seq = {r.seq: r for r in rows}
    for seq in sorted(marks):
        row = by_seq.get(seq)
        if seq < 1:
            continue  # an empty chain checkpointed: nothing to compare
        if seq > report.length:
            break
        if row is None:
            problems.append(ChainProblem(cid, seq, None, f"checkpointed entry #{seq} is missing", "deleted"))
            break
        wrong = sorted(at for mac, at in marks[seq].items() if mac != row.hash)
        if wrong:
            problems.append(
                ChainProblem(
                    cid,
                    seq,
                    row.id,
                    f"entry #{seq} differs from the checkpoint of {wrong[0]}: chain rewritten",
                    "recomputed",
                )
            )
            break  # later entries chain from this one
    return problems


def _downgrades(cid: str, rows: list[CaseHistory], first_checkpoint_at: str | None) -> list[ChainProblem]:
    """Unkeyed (legacy) entries dated after checkpoints began: written without the key, i.e. forged."""
    if first_checkpoint_at is None:
        return []
    began = datetime.fromisoformat(first_checkpoint_at)
    return [
        ChainProblem(
            cid,
            r.seq,
            r.id,
            "unkeyed entry dated after keyed checkpoints began: chain recomputed without the key",
            "downgraded",
        )
        for r in rows
        if r.key_id is None and r.at > began
    ]


async def load_checkpoints(
    settings: Settings, keyring: Keyring, *, directory: Path | None = None, from_topic: bool = False
) -> CheckpointSet:
    found = read_checkpoint_files(directory or settings.audit_dir, keyring)
    if from_topic:
        await read_checkpoint_topic(settings, keyring, into=found)
    return found


async def verify_all(
    settings: Settings,
    case_id: str | None = None,
    batch: int = 500,
    *,
    checkpoints: CheckpointSet | None = None,
    progress: Progress | None = None,
) -> list[ChainProblem]:
    """Recompute every case's chain (or one case's); every edited, deleted or inserted entry is a problem."""
    return (await audit(settings, case_id, batch, checkpoints=checkpoints, progress=progress)).problems


async def audit(
    settings: Settings,
    case_id: str | None = None,
    batch: int = 500,
    *,
    checkpoints: CheckpointSet | None = None,
    progress: Progress | None = None,
) -> AuditReport:
    """Verify every chain with the audit key and against the latest checkpoint of each case.

    ``checkpoints`` default to the files under ``settings.audit_dir``; they are read before the database
    snapshot, so every checkpoint describes a state the snapshot already contains.
    """
    keyring = Keyring.from_settings(settings)
    cps = checkpoints if checkpoints is not None else read_checkpoint_files(settings.audit_dir, keyring)
    result = AuditReport(checkpoints=cps.records, checkpointed_cases=len(cps.latest))
    result.problems.extend(ChainProblem("-", 0, None, f"checkpoint {line}", "checkpoint") for line in cps.invalid)
    engine = make_engine(settings, "dispatch", pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            # one snapshot for heads and entries, or a transition committing in between reads as tampering
            await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            await session.execute(text("SET TRANSACTION READ ONLY"))
            heads_stmt = select(Case.id, Case.history_seq, Case.history_hash).order_by(Case.id)
            if case_id:
                heads_stmt = heads_stmt.where(Case.id == case_id)
            heads = (await session.execute(heads_stmt)).all()
            known = {h[0] for h in heads}
            result.cases = len(heads)
            task = progress.add_task("verifying case chains", total=len(heads)) if progress else None
            for start in range(0, len(heads), batch):
                chunk = heads[start : start + batch]
                rows = (
                    (
                        await session.execute(
                            select(CaseHistory)
                            .where(CaseHistory.case_id.in_([h[0] for h in chunk]))
                            .order_by(CaseHistory.case_id, CaseHistory.seq)
                        )
                    )
                    .scalars()
                    .all()
                )
                by_case: dict[str, list[CaseHistory]] = {}
                for row in rows:
                    by_case.setdefault(row.case_id, []).append(row)
                for cid, seq, head in chunk:
                    case_rows = by_case.get(cid, [])
                    report = verify_case(cid, case_rows, head_seq=seq, head_hash=head, keyring=keyring)
                    result.problems.extend(report.problems)
                    result.entries += len(case_rows)
                    result.legacy_entries += report.legacy
                    if not any(p.kind == "downgraded" for p in report.problems):
                        result.problems.extend(_downgrades(cid, case_rows, cps.first_at))
                    marks = cps.marks.get(cid)
                    if marks:
                        result.problems.extend(compare_with_checkpoints(report, case_rows, marks))
                if progress is not None and task is not None:
                    progress.advance(task, len(chunk))
            missing = (
                sorted(set(cps.latest) - known)
                if not case_id
                else ([case_id] if case_id in cps.latest and case_id not in known else [])
            )
            for cid in missing:
                cp = cps.latest[cid]
                result.problems.append(
                    ChainProblem(
                        cid,
                        cp.seq,
                        None,
                        f"case deleted: checkpointed at {cp.at} with {cp.seq} entries, now gone",
                        "case_deleted",
                    )
                )
            if not case_id:
                orphans = (
                    await session.execute(
                        select(CaseHistory.case_id, CaseHistory.seq, CaseHistory.id).where(
                            CaseHistory.case_id.not_in(known) if known else CaseHistory.id.is_not(None)
                        )
                    )
                ).all()
                result.problems.extend(
                    ChainProblem(c, s, i, "entry of an unknown case", "orphan") for c, s, i in orphans
                )
    finally:
        await engine.dispose()
    return result


KIND_LABELS = {
    "edited": "edited row",
    "deleted": "deleted row",
    "truncated": "truncated",
    "recomputed": "recomputed chain",
    "downgraded": "recomputed chain",
    "unknown_key": "unknown key",
    "orphan": "orphan row",
    "case_deleted": "deleted case",
    "checkpoint": "bad checkpoint",
}


def render_table(report: AuditReport, console: Console) -> None:
    table = Table(title=f"history verification FAILED: {len(report.problems)} problem(s)", show_lines=False)
    for column in ("case", "entry", "row id", "kind", "problem"):
        table.add_column(column, overflow="fold")
    for p in report.problems:
        table.add_row(
            p.case_id,
            str(p.seq),
            "" if p.history_id is None else str(p.history_id),
            KIND_LABELS.get(p.kind, p.kind),
            p.problem,
        )
    console.print(table)


@app.command()
def verify(
    case: Annotated[str | None, typer.Option(help="Check one case id only.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")] = False,
    checkpoint_dir: Annotated[
        Path | None, typer.Option(help="Checkpoint files (default LINKAGE_AUDIT_CHECKPOINT_DIR or <var_dir>/audit).")
    ] = None,
    topic: Annotated[
        bool, typer.Option("--topic/--no-topic", help="Also read checkpoints from linkage.audit.checkpoints.v1.")
    ] = False,
) -> None:
    """Recompute the keyed chains and compare them with the checkpoints; exit 1 on any problem."""
    settings = get_settings()
    err = Console(stderr=True)

    async def run() -> AuditReport:
        keyring = Keyring.from_settings(settings)
        cps = await load_checkpoints(settings, keyring, directory=checkpoint_dir, from_topic=topic)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=not sys.stderr.isatty(),
        ) as progress:
            return await audit(settings, case, checkpoints=cps, progress=progress)

    report = asyncio.run(run())
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "ok": report.ok,
                    "cases": report.cases,
                    "entries": report.entries,
                    "legacy_entries": report.legacy_entries,
                    "checkpoints": report.checkpoints,
                    "checkpointed_cases": report.checkpointed_cases,
                    "problems": [asdict(p) for p in report.problems],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    elif report.problems:
        render_table(report, err)
    summary = (
        f"{report.cases} cases, {report.entries} entries ({report.legacy_entries} legacy unkeyed), "
        f"{report.checkpointed_cases} cases checkpointed"
    )
    if report.problems:
        err.print(f"history verification FAILED: {len(report.problems)} problem(s); {summary}")
        raise typer.Exit(1)
    if not as_json:
        typer.echo(f"history verified: every case chain is intact; {summary}")


@app.command()
def checkpoint() -> None:
    """Write checkpoints now for every case whose head moved (the dispatch service does it every 30 s)."""
    settings = get_settings()

    async def run() -> int:
        from shared.kafka import make_producer

        engine = make_engine(settings, "dispatch", pool_size=2)
        producer = make_producer(settings, client_id="linkage-audit")
        await producer.start()
        try:
            return await checkpoint_once(settings, engine, producer, Keyring.from_settings(settings))
        finally:
            await producer.stop()
            await engine.dispose()

    typer.echo(f"checkpointed {asyncio.run(run())} case(s) to {settings.audit_dir}")


@keys_app.command("create")
def create_key(
    role: Annotated[str, typer.Option(help="handler | dispatcher | admin")],
    department: Annotated[str, typer.Option(help="Department code (CGJ, S03, ZX …).")],
    label: Annotated[str, typer.Option(help="Who uses the key.")] = "",
) -> None:
    """Create a key and print it once (only its hash is stored)."""
    from services.dispatch.auth.service import create_key as create

    try:
        plaintext = asyncio.run(create(get_settings(), role=role, department=department, label=label))
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(plaintext)
