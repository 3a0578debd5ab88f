"""``linkage dlq``: list and re-drive dead letters (poison records kept by every service's consumers)."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from shared.db import make_engine, make_sessionmaker
from shared.dead_letters import DeadLetterView, claim_for_replay, list_dead_letters, unclaim_replay
from shared.kafka import make_producer
from shared.settings import SERVICE_NAMES, Settings, get_settings

app = typer.Typer(help="Dead letters: poison records set aside by the consumers.", no_args_is_help=True)

ServiceOpt = Annotated[list[str] | None, typer.Option("--service", "-s", help="Only this service (repeatable).")]


def _services(chosen: list[str] | None) -> tuple[str, ...]:
    services = tuple(chosen or SERVICE_NAMES)
    unknown = [s for s in services if s not in SERVICE_NAMES]
    if unknown:
        typer.echo(f"unknown service(s): {', '.join(unknown)}", err=True)
        raise typer.Exit(2)
    return services


async def _list(
    settings: Settings, services: tuple[str, ...], include_replayed: bool
) -> dict[str, list[DeadLetterView]]:
    found: dict[str, list[DeadLetterView]] = {}
    for service in services:
        engine = make_engine(settings, service, pool_size=1)
        try:
            async with make_sessionmaker(engine)() as session:
                found[service] = await list_dead_letters(session, include_replayed=include_replayed)
        finally:
            await engine.dispose()
    return found


@app.command("list")
def list_command(
    service: ServiceOpt = None,
    all_: Annotated[bool, typer.Option("--all", help="Include dead letters already replayed.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Dead letters per service: where each came from, its size and the error."""
    found = asyncio.run(_list(get_settings(), _services(service), all_))
    if as_json:
        rows = [
            {"service": svc, **{k: str(v) if v is not None else None for k, v in vars(letter).items()}}
            for svc, letters in found.items()
            for letter in letters
        ]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(title="Dead letters")
    for column in ("service", "id", "group", "origin", "event id", "bytes", "error", "replayed"):
        table.add_column(column)
    for svc, letters in found.items():
        for d in letters:
            table.add_row(
                svc,
                str(d.id),
                d.consumer_group,
                f"{d.topic}[{d.partition}]@{d.offset}",
                d.event_id or "-",
                f"{d.size}{'' if d.inline else ' (ref)'}",
                d.error[:80],
                d.replayed_at.isoformat(timespec="seconds") if d.replayed_at else "-",
            )
    Console().print(table)
    total = sum(len(v) for v in found.values())
    typer.echo(f"{total} dead letter(s)")


async def _replay(settings: Settings, service: str, ids: list[int] | None) -> int:
    engine = make_engine(settings, service, pool_size=1)
    producer = make_producer(settings, client_id=f"linkage-dlq-replay-{service}")
    producer_started = False
    try:
        maker = make_sessionmaker(engine)
        async with maker() as session, session.begin():
            letters = await claim_for_replay(session, ids)
        if not letters:
            return 0
        await producer.start()
        producer_started = True
        sent: list[int] = []
        try:
            for letter in letters:
                headers = [(k, v.encode()) for k, v in letter.headers]
                await producer.send_and_wait(letter.topic, value=bytes(letter.value), key=letter.key, headers=headers)
                sent.append(letter.id)
        finally:
            unsent = [letter.id for letter in letters if letter.id not in sent]
            if unsent:
                async with maker() as session, session.begin():
                    await unclaim_replay(session, unsent)
        return len(sent)
    finally:
        if producer_started:
            await producer.stop()
        await engine.dispose()


@app.command("replay")
def replay_command(
    ids: Annotated[list[int] | None, typer.Argument(help="Dead-letter ids (default: every unreplayed one).")] = None,
    service: ServiceOpt = None,
) -> None:
    """Re-drive dead letters to their original topic, after the cause (a bug, a missing catalog entry) is fixed.

    The record is applied again by the consumer group that set it aside; other groups recognise it as done."""
    settings = get_settings()
    total = 0
    for svc in _services(service):
        count = asyncio.run(_replay(settings, svc, ids))
        if count:
            typer.echo(f"{svc}: {count} re-driven")
        total += count
    typer.echo(f"{total} dead letter(s) re-driven")
