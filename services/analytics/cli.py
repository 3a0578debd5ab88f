"""``linkage analytics …``: rebuild the projections from the topics (see services/analytics/rebuild.py)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from services.analytics.rebuild import RebuildResult, rebuild
from shared.settings import get_settings

app = typer.Typer(help="Analytics projections: rebuild from the topics.", no_args_is_help=True)


def _report(console: Console, result: RebuildResult) -> None:
    table = Table(title="Projections: live vs rebuilt from the topics")
    for column in ("table", "live rows", "rebuilt rows", "only live", "only rebuilt", "equal"):
        table.add_column(column)
    for t in result.tables:
        equal = "n/a (arrival order)" if t.table == "ticker_events" else {True: "yes", False: "NO", None: "-"}[t.equal]
        table.add_row(
            t.table,
            str(t.live_rows),
            str(t.rebuilt_rows),
            "-" if t.only_live is None else str(t.only_live),
            "-" if t.only_rebuilt is None else str(t.only_rebuilt),
            equal,
        )
    console.print(table)
    console.print(
        f"{result.records} records read, {result.applied} events applied, {result.duplicates} duplicates skipped, "
        f"{result.skipped} undecodable/poison records skipped, {result.seconds:.1f} s"
    )
    if result.truncated:
        console.print(f"[yellow]the topics no longer start at offset 0: {', '.join(result.truncated)}[/yellow]")
    if not result.in_sync:
        behind = "unknown" if result.behind is None else str(result.behind)
        console.print(f"[yellow]not compared: the live consumer and the replay stand {behind} record(s) apart[/yellow]")
    elif result.equal:
        console.print("[green]rebuilt projections equal the incrementally built ones[/green]")
    elif result.equal is False:
        console.print("[red]rebuilt projections differ from the live ones[/red]")


@app.command("rebuild")
def rebuild_command(
    check: Annotated[
        bool, typer.Option("--check", help="Only compare with the live projections; replace nothing.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace even when the topics no longer start at offset 0 (retention).")
    ] = False,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the scratch schema analytics_rebuild afterwards.")] = False,
    wait: Annotated[
        float, typer.Option(min=0, max=600, help="Seconds to wait for the live consumer to catch up before comparing.")
    ] = 30.0,
) -> None:
    """Replay the topics from the beginning into fresh projections, compare them with the live ones and (unless
    --check) replace the live ones, with a progress bar. Exit 1 when a comparison found a difference."""
    console = Console()
    with Progress(
        TextColumn("[bold]replaying[/bold] the topics"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("records"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task("replay", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = asyncio.run(
            rebuild(get_settings(), check_only=check, force=force, keep=keep, wait_s=wait, progress=progress)
        )
    _report(console, result)
    if result.swapped:
        console.print("live projections replaced by the rebuilt ones")
    elif not check:
        console.print("[yellow]nothing replaced (use --force to rebuild from truncated topics)[/yellow]")
    if result.equal is False:
        raise typer.Exit(1)
