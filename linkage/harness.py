"""A disposable system for tests and benchmarks: real PostgreSQL, a real broker, real service processes.

``LINKAGE_DATABASE_URL`` / ``LINKAGE_KAFKA_BOOTSTRAP`` name external ones; otherwise the embedded
PostgreSQL and the embedded Tansu broker start once per test session. Every session gets its own
database, topic prefix and consumer-group prefix.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx

from linkage.infra import (
    EmbeddedPostgres,
    child_preexec,
    drop_database,
    ensure_database,
    free_port,
    start_broker,
    stop_postmaster,
    stop_process,
)
from shared.settings import SERVICE_NAMES, Settings

T = TypeVar("T")
REPO = Path(__file__).resolve().parent.parent


def _with_database(url: str, name: str) -> str:
    base, sep, query = url.partition("?")
    head, _, _ = base.rpartition("/")
    return f"{head}/{name}{sep}{query}"


@dataclass
class Infra:
    database_url: str
    admin_url: str
    kafka_bootstrap: str
    topic_prefix: str
    group_prefix: str
    workdir: Path
    postgres: EmbeddedPostgres | None = None
    broker: subprocess.Popen[bytes] | None = None
    broker_port: int | None = None
    database_name: str = ""

    def settings(self, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "database_url": self.database_url,
            "kafka_bootstrap": self.kafka_bootstrap,
            "topic_prefix": self.topic_prefix,
            "group_prefix": self.group_prefix,
            "partitions": 4,
            "log_json": True,
            "demo_mode": True,  # demo secrets are fine in tests
            "audit_checkpoint_dir": self.workdir / "var" / "audit",  # where the stack's dispatch writes them
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            LINKAGE_DATABASE_URL=self.database_url,
            LINKAGE_KAFKA_BOOTSTRAP=self.kafka_bootstrap,
            LINKAGE_TOPIC_PREFIX=self.topic_prefix,
            LINKAGE_GROUP_PREFIX=self.group_prefix,
            LINKAGE_PARTITIONS="4",
            LINKAGE_VAR_DIR=str(self.workdir / "var"),
            # one trained classifier for every stack of the run (keyed by what it was trained on)
            LINKAGE_MODEL_CACHE_DIR=os.environ.get("LINKAGE_MODEL_CACHE_DIR", str(REPO / "var" / "cache")),
            LINKAGE_DEMO_MODE="true",
            LINKAGE_WECHAT_MEDIA_HOSTS="127.0.0.1",  # photos are fetched from test servers only
            LINKAGE_MEDIA_FETCH_INTERVAL_S="0.3",
            LINKAGE_DEV_SINK_ENABLED="true",  # tests read /dev/messages
            LINKAGE_RATE_LIMIT_EXEMPT="127.0.0.1",  # tests poll; rate-limit tests connect from 127.0.0.2
        )
        return env

    def restart_broker(self) -> None:
        """Kill the embedded broker and start a new one on the same port (it forgets every topic)."""
        assert self.broker is not None and self.broker_port is not None, "only the embedded broker restarts"
        self.broker.kill()
        self.broker.wait(10)
        self.broker = start_broker(self.broker_port, self.workdir / "broker.log")

    # Fault injection (tests/reliability, `linkage chaos`)
    def stop_postgres(self, immediate: bool = True) -> None:
        """Stop the embedded PostgreSQL (``pg_ctl -m immediate stop`` by default); services stay up."""
        assert self.postgres is not None, "only the embedded PostgreSQL is stopped by tests"
        self.postgres.stop_now(immediate=immediate)

    def start_postgres(self) -> None:
        """Start the embedded PostgreSQL again on the same data directory and socket."""
        assert self.postgres is not None, "only the embedded PostgreSQL is started by tests"
        if not self.postgres.is_running():
            self.postgres.start_again()


def start_infra() -> Infra:
    workdir = Path(tempfile.mkdtemp(prefix="linkage-test-"))
    try:
        return _start_infra(workdir)
    except BaseException:  # an error or SIGTERM/Ctrl-C half-way: stop what already started
        stop_postmaster(workdir / "pg")
        shutil.rmtree(workdir, ignore_errors=True)
        raise


def _start_infra(workdir: Path) -> Infra:
    tag = uuid.uuid4().hex[:8]
    external_db = os.environ.get("LINKAGE_DATABASE_URL")
    postgres = None
    if external_db:
        admin_url = external_db
    else:
        postgres = EmbeddedPostgres(workdir / "pg")
        admin_url = postgres.url("postgres")
    db_name = f"linkage_test_{tag}"
    ensure_database(admin_url, db_name)
    external_kafka = os.environ.get("LINKAGE_KAFKA_BOOTSTRAP")
    broker = None
    broker_port = None
    if external_kafka:
        bootstrap = external_kafka
    else:
        broker_port = free_port()
        broker = start_broker(broker_port, workdir / "broker.log")
        bootstrap = f"127.0.0.1:{broker_port}"
    return Infra(
        database_url=_with_database(admin_url, db_name),
        admin_url=admin_url,
        kafka_bootstrap=bootstrap,
        topic_prefix=f"t{tag}." if external_kafka else "",
        group_prefix=f"g{tag}." if external_kafka else "",
        workdir=workdir,
        postgres=postgres,
        broker=broker,
        broker_port=broker_port,
        database_name=db_name,
    )


def stop_infra(infra: Infra) -> None:
    keep = os.environ.get("LINKAGE_TEST_KEEP_LOGS")
    if infra.broker:
        stop_process(infra.broker)
    with contextlib.suppress(Exception):
        drop_database(infra.admin_url, infra.database_name)
    if infra.postgres:
        infra.postgres.stop()
    if keep:
        print(f"test logs kept in {infra.workdir}")
    else:
        shutil.rmtree(infra.workdir, ignore_errors=True)


@dataclass
class ServiceProcess:
    """One service running as a real process (``linkage serve``), so tests can SIGKILL it."""

    name: str
    infra: Infra
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.infra.workdir / f"{self.name}-{self.port}.log"

    def start(self, wait: bool = True) -> ServiceProcess:
        env = self.infra.env()
        env.setdefault("LINKAGE_PUBLIC_BASE_URL", self.url)  # absolute links in messages (the survey page)
        env.update(self.extra_env)
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "linkage.cli", "serve", self.name, "--port", str(self.port)],
            env=env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=child_preexec,
        )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout_s: float | None = None) -> None:
        # generous: on a loaded 2-core machine intake's classifier training alone has taken 40 s
        timeout_s = timeout_s or float(os.environ.get("LINKAGE_READY_TIMEOUT_S", "180"))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log_path.read_text()[-4000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready:\n{self.log_path.read_text()[-4000:]}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.send_signal(signal.SIGCONT)  # a paused process cannot terminate
            stop_process(self.proc, timeout_s=15)

    # Fault injection (tests/reliability, `linkage chaos`)
    def pause(self) -> None:
        """SIGSTOP: the process keeps its sockets and state but does nothing (a frozen pod)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def kill_and_restart(self, wait: bool = True) -> None:
        """SIGKILL, then the same service again on the same port (call from the main thread)."""
        self.kill()
        self.start(wait=wait)


@dataclass
class Stack:
    services: dict[str, ServiceProcess]
    operator_key: str = ""  # a hotline operator's X-API-Key (filing tickets, caller history, detail)

    def url(self, name: str) -> str:
        return self.services[name].url

    @property
    def operator_headers(self) -> dict[str, str]:
        return {"X-API-Key": self.operator_key}

    def stop(self) -> None:
        for svc in self.services.values():
            svc.stop()


def start_stack(infra: Infra, names: tuple[str, ...] = SERVICE_NAMES, extra_env: dict[str, str] | None = None) -> Stack:
    """``extra_env`` goes to every service process, also when a test kills and restarts one."""
    services = {name: ServiceProcess(name, infra, extra_env=dict(extra_env or {})) for name in names}
    if "dispatch" in services:
        for svc in services.values():
            svc.extra_env["LINKAGE_DISPATCH_URL"] = services["dispatch"].url
    try:
        for svc in services.values():
            svc.start(wait=False)
        for svc in services.values():
            svc.wait_ready()
    except BaseException:
        for svc in services.values():
            svc.stop()
        raise
    return Stack(services, operator_key=create_operator(infra)[1] if "intake" in services else "")


def create_operator(infra: Infra, role: str = "operator", password: str | None = None) -> tuple[str, str]:
    """A new hotline account (unique name) in the migrated database; returns its username and API key."""
    from services.intake.operators import service as operators
    from shared.db import make_engine, make_sessionmaker

    async def create() -> tuple[str, str]:
        engine = make_engine(infra.settings(), "intake", pool_size=1)
        try:
            async with make_sessionmaker(engine)() as session:
                username = f"test-{role}-{uuid.uuid4().hex[:8]}"
                _, key = await operators.create(
                    session, username=username, role=role, display_name=username, password=password
                )
                await session.commit()
                return username, key
        finally:
            await engine.dispose()

    return asyncio.run(create())


def wait_until(
    predicate: Callable[[], T | None], timeout_s: float = 30.0, interval_s: float = 0.2, message: str = "condition"
) -> T:
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {message}; last value: {last!r}")


def replica_name(name: str, replica: int) -> str:
    """``dispatch`` for the first replica, ``dispatch-2`` for the second (keys of :attr:`Stack.services`)."""
    return name if replica == 1 else f"{name}-{replica}"


def start_replicated_stack(infra: Infra, replicas: int = 2, names: tuple[str, ...] = SERVICE_NAMES) -> Stack:
    """``replicas`` processes of every service against the same database and broker (consumer groups share the
    partitions, relays take an advisory lock, the SLA scanner claims timers with SKIP LOCKED)."""
    services = {replica_name(name, r): ServiceProcess(name, infra) for r in range(1, replicas + 1) for name in names}
    if "dispatch" in services:
        for svc in services.values():
            svc.extra_env["LINKAGE_DISPATCH_URL"] = services["dispatch"].url
    try:
        for svc in services.values():
            svc.start(wait=False)
        for svc in services.values():
            svc.wait_ready()
    except BaseException:
        for svc in services.values():
            svc.stop()
        raise
    return Stack(services, operator_key=create_operator(infra)[1] if "intake" in services else "")
