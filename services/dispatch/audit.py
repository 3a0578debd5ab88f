"""``linkage audit``: check the tamper-evident case history; ``linkage keys``: manage API keys."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from sqlalchemy import select, text

from services.dispatch.case.history import ChainProblem, verify_chain
from services.dispatch.case.models import Case, CaseHistory
from shared.db import make_engine, make_sessionmaker
from shared.settings import Settings, get_settings

app = typer.Typer(help="Audit the hash-chained case history.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys of department clients, dispatchers and admins.", no_args_is_help=True)


async def verify_all(settings: Settings, case_id: str | None = None, batch: int = 500) -> list[ChainProblem]:
    """Recompute every case's chain (or one case's); every edited, deleted or inserted entry is a problem."""
    engine = make_engine(settings, "dispatch", pool_size=1)
    problems: list[ChainProblem] = []
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
            for start in range(0, len(heads), batch):
                chunk = heads[start:start + batch]
                rows = (await session.execute(
                    select(CaseHistory).where(CaseHistory.case_id.in_([h[0] for h in chunk]))
                    .order_by(CaseHistory.case_id, CaseHistory.seq)
                )).scalars().all()
                by_case: dict[str, list[CaseHistory]] = {}
                for row in rows:
                    by_case.setdefault(row.case_id, []).append(row)
                for cid, seq, head in chunk:
                    problems.extend(verify_chain(cid, by_case.get(cid, []), head_seq=seq, head_hash=head))
            if not case_id:
                orphans = (await session.execute(
                    select(CaseHistory.case_id, CaseHistory.seq, CaseHistory.id)
                    .where(CaseHistory.case_id.not_in(known) if known else CaseHistory.id.is_not(None))
                )).all()
                problems.extend(ChainProblem(c, s, i, "entry of an unknown case") for c, s, i in orphans)
    finally:
        await engine.dispose()
    return problems


@app.command()
def verify(case: Annotated[str | None, typer.Option(help="Check one case id only.")] = None) -> None:
    """Recompute the hash chains; exit 1 and name the case and entry of every problem."""
    problems = asyncio.run(verify_all(get_settings(), case))
    for problem in problems:
        typer.echo(f"TAMPERED {problem}", err=True)
    if problems:
        typer.echo(f"history verification FAILED: {len(problems)} problem(s)", err=True)
        raise typer.Exit(1)
    typer.echo("history verified: every case chain is intact")


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
