"""A SIGTERMed `linkage bench` or `linkage up` leaves no embedded PostgreSQL, broker or service behind, and
`linkage up` starts again right after a clean stop (its port probe binds the way uvicorn does)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from linkage.harness import wait_until
from linkage.infra import _postmasters
from tests.e2e.test_linkage_up import _free_port_base
from tests.support import REPO

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("LINKAGE_DATABASE_URL")), reason="runs the embedded PostgreSQL itself"
)


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A short directory under /tmp: the PostgreSQL socket lives in its data directory (108-byte socket paths)."""
    path = Path(tempfile.mkdtemp(prefix="lk-sig-"))
    yield path
    for pid in _postmasters(path):  # only if the test failed: never leave a server behind
        os.kill(pid, signal.SIGKILL)
    shutil.rmtree(path, ignore_errors=True)


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKAGE_")}
    env["TMPDIR"] = str(tmp)  # bench's disposable system lives here
    return env


def _postgres_below(root: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if cmdline and cmdline[0].endswith("/postgres") and str(root) in " ".join(cmdline):
            found.append(proc)
    return found


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _assert_all_gone(children: list[psutil.Process], root: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        alive = [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
        if not alive and not _postgres_below(root):
            return
        time.sleep(0.2)
    raise AssertionError(f"left behind: {alive} {_postgres_below(root)}")


def test_sigterm_during_bench_stops_postgres_and_the_broker(short_tmp: Path) -> None:
    bench = subprocess.Popen(
        [sys.executable, "-m", "linkage.cli", "bench", "--quick", "--count", "20"],
        cwd=REPO,
        env=_env(short_tmp),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        # PostgreSQL is up and the broker (a child) runs: bench is measuring the raw limits
        wait_until(
            lambda: _postgres_below(short_tmp) and _descendants(bench.pid), 120, message="bench's infrastructure"
        )
        children = _descendants(bench.pid)
        bench.send_signal(signal.SIGTERM)
        output = bench.communicate(timeout=90)[0].decode()
    finally:
        if bench.poll() is None:
            bench.kill()
    assert bench.returncode != 0, output  # interrupted, not a finished run
    assert "Traceback" not in output, output
    _assert_all_gone(children, short_tmp)
    assert not list(short_tmp.glob("linkage-test-*")), "bench removed its working directory"


def _start_up(var: Path, base: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "linkage.cli", "up", "--port-base", str(base), "--var-dir", str(var)],
        cwd=REPO,
        env=_env(var.parent),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def test_sigterm_while_up_starts_stops_the_embedded_postgres(short_tmp: Path) -> None:
    var = short_tmp / "var"
    up = _start_up(var, _free_port_base())
    try:
        wait_until(lambda: _postgres_below(var), 120, interval_s=0.05, message="the embedded PostgreSQL")
        children = _descendants(up.pid)
        up.send_signal(signal.SIGTERM)
        output = up.communicate(timeout=90)[0].decode()
    finally:
        if up.poll() is None:
            up.kill()
    assert up.returncode == 0 and "stopped." in output, output
    _assert_all_gone(children, var)


def test_up_starts_again_right_after_a_clean_stop_and_sigterm_stops_it(short_tmp: Path) -> None:
    var = short_tmp / "var"
    base = _free_port_base()
    manifest = var / "linkage-up.json"
    for round_, stop_signal in enumerate([signal.SIGINT, signal.SIGTERM]):
        manifest.unlink(missing_ok=True)
        up = _start_up(var, base)
        try:

            def ready_or_exited(proc: subprocess.Popen[bytes] = up) -> bool:
                return manifest.exists() or proc.poll() is not None

            wait_until(ready_or_exited, 150, message="linkage up ready")
            assert up.poll() is None, up.communicate()[0].decode()  # not "ports in use" on the second round
            services = json.loads(manifest.read_text())["services"]
            broker_port = int(json.loads(manifest.read_text())["kafka_bootstrap"].rsplit(":", 1)[1])
            assert broker_port == base + 1092 or round_ == 1  # derived from --port-base (2nd round: maybe busy)
            # Keep-alive connections that the services close on shutdown: their ports go to TIME_WAIT.
            with httpx.Client(timeout=5) as client:
                for url in services.values():
                    assert client.get(f"{url}/readyz").status_code == 200
                children = _descendants(up.pid)
                up.send_signal(stop_signal)
                output = up.communicate(timeout=90)[0].decode()
        finally:
            if up.poll() is None:
                up.kill()
        assert up.returncode == 0 and "stopped." in output, output
        assert "RuntimeDirWarning" not in output and "Warning" not in output, output
        _assert_all_gone(children, var)
