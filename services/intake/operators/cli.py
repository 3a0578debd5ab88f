"""``linkage operators …``: create hotline operator accounts, rotate their keys, disable them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.operators import service
from shared.db import make_engine, make_sessionmaker
from shared.settings import get_settings

app = typer.Typer(help="Hotline operator accounts (console login and X-API-Key).", no_args_is_help=True)
T = TypeVar("T")


async def _in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    engine = make_engine(get_settings(), "intake", pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            result = await work(session)
            await session.commit()
            return result
    finally:
        await engine.dispose()


def _run(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    try:
        return asyncio.run(_in_transaction(work))
    except (ValueError, LookupError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


@app.command("create")
def create(
    username: Annotated[str, typer.Option(help="Login name: lower-case letters, digits, . _ -")],
    role: Annotated[str, typer.Option(help="operator | supervisor (班长)")] = "operator",
    display_name: Annotated[str, typer.Option(help="Name shown in the console.")] = "",
    password: Annotated[str | None, typer.Option(help="Console password (asked for when not given).")] = None,
    no_password: Annotated[bool, typer.Option("--no-password", help="API key only, no console login.")] = False,
) -> None:
    """Create an account and print its API key once (only hashes are stored)."""
    if password is None and not no_password:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)

    async def work(session: AsyncSession) -> str:
        _, key = await service.create(
            session, username=username, role=role, display_name=display_name, password=password
        )
        return key

    typer.echo(_run(work))


@app.command("rotate-key")
def rotate_key(username: Annotated[str, typer.Argument()]) -> None:
    """Replace the account's API key and print the new one (the old one stops working)."""

    async def work(session: AsyncSession) -> str:
        return await service.rotate_key(session, username)

    typer.echo(_run(work))


@app.command("disable")
def disable(username: Annotated[str, typer.Argument()]) -> None:
    """Disable an account: its key and its console sessions stop working."""

    async def work(session: AsyncSession) -> None:
        await service.set_disabled(session, username, True)

    _run(work)
    typer.echo(f"disabled {username}")


@app.command("enable")
def enable(username: Annotated[str, typer.Argument()]) -> None:
    """Enable a disabled account again."""

    async def work(session: AsyncSession) -> None:
        await service.set_disabled(session, username, False)

    _run(work)
    typer.echo(f"enabled {username}")


@app.command("list")
def list_accounts() -> None:
    """Every account: username, role, display name, state."""

    async def work(session: AsyncSession) -> list[str]:
        return [
            f"{o.username}\t{o.role}\t{o.display_name}\t{'disabled' if o.disabled else 'active'}"
            for o in await service.list_all(session)
        ]

    for line in _run(work):
        typer.echo(line)
