"""``linkage classify export-corrections``: the dispatchers' 更正分类 as a training corpus (JSON lines)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, TextIO

import typer

from shared.db import make_engine, make_sessionmaker
from shared.settings import Settings, get_settings

app = typer.Typer(help="Classifier data kept by dispatch.", no_args_is_help=True)


async def write_corrections(settings: Settings, out: TextIO) -> int:
    """Write one ``{"text", "kind", "category", "emergency"}`` line per corrected case; returns the count."""
    from services.dispatch.case.corrections import examples

    engine = make_engine(settings, "dispatch", pool_size=1)
    written = 0
    try:
        async with make_sessionmaker(engine)() as session:
            async for row in examples(session):
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                written += 1
    finally:
        await engine.dispose()
    return written


@app.command("export-corrections")
def export_corrections(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="JSON-lines file to write (default: standard output).")
    ] = None,
) -> None:
    """Every case a dispatcher re-labelled (更正分类), latest labels, in the corpus format the classifier trains on."""
    settings = get_settings()
    if out is None:
        count = asyncio.run(write_corrections(settings, sys.stdout))
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8") as fh:
            count = asyncio.run(write_corrections(settings, fh))
    typer.echo(f"exported {count} corrected example(s)" + (f" to {out}" if out else ""), err=True)
