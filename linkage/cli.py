"""The ``linkage`` command: run the whole system, one service, migrations, admin tools."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from linkage.demo import app as demo_app
from linkage.dlq import app as dlq_app
from services.analytics.cli import app as analytics_app
from services.dispatch.audit import app as audit_app
from services.dispatch.audit import keys_app
from services.dispatch.case.cli import app as classify_app
from services.intake.operators.cli import app as operators_app
from shared.calendar.cli import app as calendar_app
from shared.settings import DEFAULT_PORTS, SERVICE_NAMES, get_settings

app = typer.Typer(help="Linkage (大联动): complaint intake and dispatch.", no_args_is_help=True)
app.add_typer(calendar_app, name="calendar", help="Chinese government working-day calendar.")
app.add_typer(audit_app, name="audit", help="Audit the hash-chained case history.")
app.add_typer(keys_app, name="keys", help="API keys of department clients, dispatchers and admins.")
app.add_typer(operators_app, name="operators", help="Hotline operator accounts (console login, X-API-Key).")
app.add_typer(dlq_app, name="dlq", help="Dead letters: list and re-drive poison records.")
app.add_typer(analytics_app, name="analytics", help="Analytics projections: rebuild from the topics.")
app.add_typer(classify_app, name="classify", help="Classifier data: the dispatchers' corrections for retraining.")
app.add_typer(demo_app, name="demo", help="Demo traffic (load) and past days (history) for the running system.")

_RUNS_ITS_OWN_SYSTEM = {"up", "serve", "bench", "chaos"}


@app.callback()
def use_the_running_system(ctx: typer.Context) -> None:
    """Admin commands (audit, keys, operators, dlq, migrate, calendar) talk to the system `linkage up` started
    (``var/linkage-up.json``) when no ``LINKAGE_DATABASE_URL`` is set."""
    if ctx.invoked_subcommand in _RUNS_ITS_OWN_SYSTEM or os.environ.get("LINKAGE_DATABASE_URL"):
        return
    manifest = Path(os.environ.get("LINKAGE_VAR_DIR", "var")) / "linkage-up.json"
    try:
        running = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return
    os.environ["LINKAGE_DATABASE_URL"] = running["database_url"]
    os.environ.setdefault("LINKAGE_KAFKA_BOOTSTRAP", running.get("kafka_bootstrap", ""))
    os.environ.setdefault("LINKAGE_DEMO_MODE", "true")
    os.environ.setdefault("LINKAGE_VAR_DIR", str(manifest.parent))  # audit checkpoints live there
    get_settings.cache_clear()


def _need_local() -> None:
    """`up`, `bench` and `chaos` start embedded infrastructure: the `local` extra must be installed."""
    from linkage.infra import LocalExtraMissing, require_local, sigterm_unwinds

    try:
        require_local()
    except LocalExtraMissing as exc:
        typer.echo(f"linkage: {exc}", err=True)
        raise typer.Exit(2) from None
    sigterm_unwinds()  # a SIGTERM stops the embedded PostgreSQL, broker and services this command starts


BROKER_OFFSET = 1092  # the embedded broker listens on port_base + 1092: 9092, Kafka's own port, for 8000


@app.command()
def up(
    port_base: Annotated[
        int, typer.Option(min=1024, max=65535 - BROKER_OFFSET, help="Services listen on port_base+1 .. port_base+4.")
    ] = 8000,
    broker_port: Annotated[
        int | None,
        typer.Option(
            min=0, max=65535, help="Embedded broker port (default: port_base+1092, or a free one if taken; 0: any)."
        ),
    ] = None,
    var_dir: Annotated[Path, typer.Option(help="Where data, logs and linkage-up.json live.")] = Path("var"),
    demo: Annotated[bool, typer.Option(help="Load the demo district, catalog and accounts.")] = True,
    demo_history: Annotated[
        int,
        typer.Option(
            min=0, max=90, help="Preload this many days of past cases before serving (demo only; once per --var-dir)."
        ),
    ] = 0,
) -> None:
    """Start everything: embedded PostgreSQL and broker, migrations, demo data, the four services."""
    _need_local()
    from linkage.up import run_up

    chosen_broker_port = port_base + BROKER_OFFSET if broker_port is None else broker_port
    raise typer.Exit(
        run_up(
            port_base=port_base,
            broker_port=chosen_broker_port,
            var_dir=var_dir,
            demo=demo,
            demo_history=demo_history if demo else 0,
        )
    )


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help="intake | dispatch | notify | analytics")],
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(min=1, max=65535)] = None,
) -> None:
    """Run one service against LINKAGE_DATABASE_URL / LINKAGE_KAFKA_BOOTSTRAP (how compose and k8s run it)."""
    if service not in SERVICE_NAMES:
        typer.echo(f"unknown service {service!r}; choose one of {', '.join(SERVICE_NAMES)}", err=True)
        raise typer.Exit(2)
    from pydantic_settings import BaseSettings

    from shared.settings import DemoSecretsError, get_settings

    extra: list[BaseSettings] = []
    if service == "notify":  # notify's own secrets (the SMS gateway's callback key)
        from services.notify.config import get_notify_settings

        extra.append(get_notify_settings())
    try:
        get_settings().refuse_demo_secrets(*extra)  # before anything connects
    except DemoSecretsError as exc:
        typer.echo(f"linkage {service}: {exc}", err=True)
        raise typer.Exit(78) from None  # EX_CONFIG
    import uvicorn

    uvicorn.run(
        f"services.{service}.main:create_app",
        factory=True,
        host=host,
        port=port or int(os.environ.get("LINKAGE_PORT", DEFAULT_PORTS[service])),
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
    )


@app.command()
def migrate(
    service: Annotated[list[str] | None, typer.Argument(help="Services to migrate (default: all).")] = None,
) -> None:
    """Run the Alembic migrations of every service schema (idempotent)."""
    from shared.migrations import upgrade_all

    chosen = tuple(service or SERVICE_NAMES)
    unknown = [s for s in chosen if s not in SERVICE_NAMES]
    if unknown:
        typer.echo(f"unknown service(s): {', '.join(unknown)}", err=True)
        raise typer.Exit(2)
    upgrade_all(services=chosen)
    typer.echo(f"migrated: {', '.join(chosen)}")


@app.command()
def bench(
    quick: Annotated[
        bool, typer.Option("--quick/--full", help="Quick (< 3 min, 10 k open timers) or full (1 M open timers).")
    ] = True,
    replicas: Annotated[int, typer.Option(min=1, max=4, help="Processes of every service (same broker, same DB).")] = 1,
    count: Annotated[
        int | None, typer.Option(min=1, max=1_000_000, help="Complaints per pipeline run (default: by mode).")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=1024, help="Concurrent HTTP clients.")] = 32,
    out: Annotated[Path | None, typer.Option(help="Directory for the JSON results (default bench/results).")] = None,
    linkage_up: Annotated[
        bool | None,
        typer.Option(
            "--linkage-up/--no-linkage-up",
            help="Also time `linkage up`, first and second start (default: in full mode only).",
        ),
    ] = None,
) -> None:
    """Pipeline, latency, SLA timers, replay and memory, each next to this machine's raw limits (same run)."""
    _need_local()
    from linkage.bench import run_bench

    raise typer.Exit(
        run_bench(quick=quick, replicas=replicas, count=count, concurrency=concurrency, out_dir=out, up=linkage_up)
    )


@app.command()
def chaos(
    scenario: Annotated[
        list[str] | None, typer.Argument(help="Run only scenarios whose name contains these words (default: all).")
    ] = None,
    self_contained: Annotated[
        bool,
        typer.Option(
            "--self-contained/--running",
            help="Start a disposable system (default) or attack the one `linkage up` runs (var/linkage-up.json).",
        ),
    ] = True,
    var_dir: Annotated[Path, typer.Option(help="`linkage up`'s var directory (with --running).")] = Path("var"),
    complaints: Annotated[int, typer.Option(min=1, max=100_000, help="Complaints per scenario.")] = 120,
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="Concurrent hotline clients.")] = 8,
    outage: Annotated[float, typer.Option(min=0.0, max=600.0, help="Seconds PostgreSQL stays down.")] = 12.0,
) -> None:
    """Inject single faults (PostgreSQL down, kill -9, broker restart, poison) and print what was lost or doubled."""
    _need_local()
    from linkage.chaos import Scale, run_chaos

    scale = Scale(complaints=complaints, concurrency=concurrency, outage_s=outage)
    raise typer.Exit(run_chaos(self_contained=self_contained, var_dir=var_dir, names=scenario, scale=scale))


@app.command(name="eval")
def eval_(
    as_json: Annotated[bool, typer.Option("--json", help="Print every figure as JSON instead of tables.")] = False,
) -> None:
    """Smart-intake quality on the project's own test split: categories, kinds, auto-routing, emergencies, 并单."""
    from linkage.evaluate import run_eval

    raise typer.Exit(run_eval(as_json=as_json))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
