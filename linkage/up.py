"""`linkage up`: the whole system on one machine, no Docker, no system services."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from linkage.infra import (
    EmbeddedPostgres,
    child_preexec,
    ensure_database,
    free_port,
    port_is_free,
    start_broker,
    stop_postmaster,
    stop_process,
)
from shared.settings import SERVICE_NAMES, Settings

console = Console()
DATABASE_NAME = "linkage"


@dataclass
class Stack:
    var_dir: Path
    database_url: str = ""
    kafka_bootstrap: str = ""
    postgres: EmbeddedPostgres | None = None
    broker: subprocess.Popen[bytes] | None = None
    services: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def pid_file(self) -> Path:
        return self.var_dir / "linkage-up.pids.json"

    def service_env(self, name: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            LINKAGE_DATABASE_URL=self.database_url,
            LINKAGE_KAFKA_BOOTSTRAP=self.kafka_bootstrap,
            LINKAGE_VAR_DIR=str(self.var_dir.resolve()),
            LINKAGE_PORT=str(self.ports[name]),
            LINKAGE_DISPATCH_URL=f"http://127.0.0.1:{self.ports['dispatch']}",
        )
        # links in messages (the survey page) and Open311 discovery point at the service itself
        env.setdefault("LINKAGE_PUBLIC_BASE_URL", f"http://127.0.0.1:{self.ports[name]}")
        env.setdefault("LINKAGE_DEV_SINK_ENABLED", "true")  # a local demo: messages are read at /dev/messages
        env.setdefault("LINKAGE_DEMO_MODE", "true")  # a local demo: the public demo secrets are accepted
        return env

    def record_pids(self) -> None:
        procs = [p for p in [self.broker, *self.services.values()] if p is not None]
        self.pid_file.write_text(json.dumps([{"pid": p.pid, "args": p.args} for p in procs]))


def kill_leftovers(pid_file: Path) -> int:
    """Stop processes a previous `linkage up` started and never stopped (e.g. it was SIGKILLed)."""
    if not pid_file.exists():
        return 0
    killed = 0
    with contextlib.suppress(ValueError, OSError):
        for entry in json.loads(pid_file.read_text()):
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(entry["pid"])
                if proc.cmdline() == [str(a) for a in entry["args"]]:
                    proc.terminate()
                    with contextlib.suppress(psutil.TimeoutExpired):
                        proc.wait(5)
                    if proc.is_running():
                        proc.kill()
                    killed += 1
    pid_file.unlink(missing_ok=True)
    return killed


def choose_broker_port(requested: int) -> int:
    """The requested port (`--broker-port`, by default port_base+1092) if nothing listens there, else a free one."""
    return requested if requested and port_is_free(requested) else free_port()


def start_infrastructure(stack: Stack, broker_port: int) -> None:
    external_db = os.environ.get("LINKAGE_DATABASE_URL")
    if external_db:
        stack.database_url = external_db
    else:
        stack.postgres = EmbeddedPostgres(stack.var_dir / "pg")
        ensure_database(stack.postgres.url("postgres"), DATABASE_NAME)
        stack.database_url = stack.postgres.url(DATABASE_NAME)
    external_kafka = os.environ.get("LINKAGE_KAFKA_BOOTSTRAP")
    if external_kafka:
        stack.kafka_bootstrap = external_kafka
    else:
        port = choose_broker_port(broker_port)
        stack.broker = start_broker(port, stack.var_dir / "log" / "broker.log")
        stack.kafka_bootstrap = f"127.0.0.1:{port}"


def prepare_data(stack: Stack, demo: bool) -> dict[str, Any]:
    from shared.kafka import ensure_topics, wait_for_broker
    from shared.migrations import upgrade_all

    settings = Settings(database_url=stack.database_url, kafka_bootstrap=stack.kafka_bootstrap)

    async def topics() -> None:
        await wait_for_broker(settings)
        await ensure_topics(settings)

    asyncio.run(topics())
    upgrade_all(settings)
    return run_seeds(settings) if demo else {}


def run_seeds(settings: Settings) -> dict[str, Any]:
    """Demo data: every module in ``services/<name>/seeds/`` offers ``async seed(settings) -> dict``
    (idempotent); what they return lands in ``var/linkage-up.json`` under ``demo.<name>``."""
    out: dict[str, Any] = {}
    for name in SERVICE_NAMES:
        folder = Path(__file__).resolve().parent.parent / "services" / name / "seeds"
        for path in sorted(folder.glob("*.py")) if folder.is_dir() else []:
            if path.stem == "__init__":
                continue
            module = importlib.import_module(f"services.{name}.seeds.{path.stem}")
            out.setdefault(name, {}).update(asyncio.run(module.seed(settings)) or {})
    return out


def start_service(stack: Stack, name: str) -> subprocess.Popen[bytes]:
    log = open(stack.var_dir / "log" / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
    return subprocess.Popen(
        [sys.executable, "-m", "linkage.cli", "serve", name, "--port", str(stack.ports[name])],
        env=stack.service_env(name),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        preexec_fn=child_preexec,
    )


def wait_ready(stack: Stack, timeout_s: float = 90.0) -> list[str]:
    pending = set(stack.services)
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=2.0) as client:
        while pending and time.monotonic() < deadline:
            for name in sorted(pending):
                if stack.services[name].poll() is not None:
                    raise RuntimeError(f"{name} exited; see {stack.var_dir / 'log' / (name + '.log')}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"http://127.0.0.1:{stack.ports[name]}/readyz").status_code == 200:
                        pending.discard(name)
            time.sleep(0.2)
    return sorted(pending)


def urls(stack: Stack) -> dict[str, dict[str, str]]:
    pages = {
        "intake": ["/docs", "/api/v1/complaints", "/console", "/open311/v2/discovery.json", "/wechat/callback"],
        "dispatch": ["/docs", "/workbench", "/handler", "/track", "/dev/handoffs"],
        "notify": ["/docs", "/dev/messages"],
        "analytics": ["/docs", "/api/v1/stats/summary", "/display"],
    }
    return {name: {path: f"http://127.0.0.1:{stack.ports[name]}{path}" for path in pages[name]} for name in stack.ports}


def write_manifest(stack: Stack, seeds: dict[str, Any], history: dict[str, Any] | None = None) -> Path:
    manifest: dict[str, Any] = {
        "services": {n: f"http://127.0.0.1:{p}" for n, p in stack.ports.items()},
        "urls": urls(stack),
        "database_url": stack.database_url,
        "kafka_bootstrap": stack.kafka_bootstrap,
        "demo": seeds,
    }
    if history is not None:
        manifest["demo_history"] = history  # days, cases, loaded_at; loaded_now: False when an earlier start did
    path = stack.var_dir / "linkage-up.json"
    partial = path.with_suffix(".json.tmp")  # written whole, then renamed: a reader never sees half of it
    partial.write_text(json.dumps(manifest, ensure_ascii=False, indent=2))
    partial.replace(path)
    return path


def print_urls(stack: Stack, manifest: Path, elapsed: float) -> None:
    table = Table(title=f"Linkage is up ({elapsed:.1f} s)")
    table.add_column("service")
    table.add_column("URL")
    for name, pages in urls(stack).items():
        for i, url in enumerate(pages.values()):
            table.add_row(name if i == 0 else "", url)
    console.print(table)
    console.print(f"Database: {stack.database_url}\nBroker:   {stack.kafka_bootstrap}")
    console.print(f"Demo accounts and keys: {manifest}\nPress Ctrl-C to stop everything.")


def shutdown(stack: Stack) -> None:
    for proc in stack.services.values():
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
    for proc in stack.services.values():
        stop_process(proc, timeout_s=15)
    if stack.broker:
        stop_process(stack.broker)
    if stack.postgres:
        stack.postgres.stop()
    elif not os.environ.get("LINKAGE_DATABASE_URL"):
        stop_postmaster(stack.var_dir / "pg")  # interrupted while the embedded server was starting
    stack.pid_file.unlink(missing_ok=True)


def supervise(stack: Stack) -> None:
    """Restart a service that dies; return when asked to stop."""
    stop = {"now": False}

    def request_stop(signum: int, frame: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    while not stop["now"]:
        time.sleep(0.5)
        for name, proc in list(stack.services.items()):
            if proc.poll() is not None and not stop["now"]:
                console.print(f"[yellow]{name} exited with {proc.returncode}; restarting[/yellow]")
                stack.services[name] = start_service(stack, name)
                stack.record_pids()
        if stack.broker and stack.broker.poll() is not None and not stop["now"]:
            port = int(stack.kafka_bootstrap.rsplit(":", 1)[1])
            console.print("[yellow]broker exited; restarting (the outbox re-publishes what it lost)[/yellow]")
            stack.broker = start_broker(port, stack.var_dir / "log" / "broker.log")
            stack.record_pids()


HISTORY_MARK = "demo-history.json"
"""In the data directory once ``--demo-history`` was loaded into its database: a later start skips the preload."""


def history_mark(var_dir: Path) -> Path:
    return var_dir / HISTORY_MARK


def preload_history(manifest: Path, days: int) -> dict[str, Any]:
    """``--demo-history D``: D days of past cases through dispatch's demo-only import, before the URLs are shown,
    once per data directory (the mark it leaves makes a second start skip it). Returns what the manifest records."""
    from linkage.demo import Target, preload_history

    mark = history_mark(manifest.parent)
    if mark.exists():
        with contextlib.suppress(ValueError, OSError):
            done = json.loads(mark.read_text())
            console.print(
                f"demo history already loaded ({done.get('cases', '?')} cases over {done.get('days', '?')} day(s) "
                f"at {done.get('loaded_at', '?')}); not loaded again"
            )
            return {**done, "loaded_now": False}
    try:
        totals = preload_history(Target.from_manifest(json.loads(manifest.read_text())), days, console=console)
    except Exception as exc:  # noqa: BLE001 - the system still serves without its history
        console.print(f"[yellow]demo history not loaded: {exc}[/yellow]")
        return {"days": days, "loaded_now": False, "error": str(exc)[:300]}
    console.print(f"preloaded {totals['cases']} cases over {days} day(s) ({totals['steps']} steps)")
    done = {
        "days": days,
        "cases": totals["cases"],
        "steps": totals["steps"],
        "loaded_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    mark.write_text(json.dumps(done, ensure_ascii=False, indent=2))
    return {**done, "loaded_now": True}


def run_up(*, port_base: int, broker_port: int, var_dir: Path, demo: bool, demo_history: int = 0) -> int:
    started = time.monotonic()
    var_dir.mkdir(parents=True, exist_ok=True)
    (var_dir / "log").mkdir(exist_ok=True)
    stack = Stack(var_dir=var_dir.resolve())
    stack.ports = {name: port_base + i + 1 for i, name in enumerate(SERVICE_NAMES)}
    if killed := kill_leftovers(stack.pid_file):
        console.print(f"stopped {killed} process(es) left over from an earlier run")
    busy = [f"{n}:{p}" for n, p in stack.ports.items() if not port_is_free(p)]
    if busy:
        console.print(f"[red]ports in use: {', '.join(busy)} (try --port-base)[/red]")
        return 1
    if not os.environ.get("LINKAGE_DATABASE_URL") and not (stack.var_dir / "pg").exists():
        history_mark(stack.var_dir).unlink(missing_ok=True)  # a new database: its history is still to be loaded
    try:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task("starting PostgreSQL and the broker", total=None)
            start_infrastructure(stack, broker_port)
            stack.record_pids()
            bar.update(task, description="creating topics, migrating, loading demo data")
            seeds = prepare_data(stack, demo)
            bar.update(task, description="starting intake, dispatch, notify, analytics")
            for name in SERVICE_NAMES:
                stack.services[name] = start_service(stack, name)
            stack.record_pids()
            not_ready = wait_ready(stack)
        if not_ready:
            console.print(f"[red]not ready after 90 s: {', '.join(not_ready)}; see {var_dir / 'log'}[/red]")
            shutdown(stack)
            return 1
        manifest = write_manifest(stack, seeds)
        if demo and demo_history:
            manifest = write_manifest(stack, seeds, preload_history(manifest, demo_history))
        print_urls(stack, manifest, time.monotonic() - started)
        supervise(stack)
    except KeyboardInterrupt:
        pass
    except Exception as exc:
        console.print(f"[red]linkage up failed: {exc}[/red]")
        shutdown(stack)
        return 1
    console.print("stopping…")
    shutdown(stack)
    console.print("stopped.")
    return 0
