"""`linkage up` (what `make run` starts) as a new user runs it: ready, demo data, demo history preloaded once per
data directory (a second start skips it), Ctrl-C leaves nothing."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from linkage.infra import port_is_free
from tests.support import REPO


def _free_port_base() -> int:
    for _ in range(200):
        base = random.randint(20_000, 60_000)
        if all(port_is_free(base + i) for i in range(1, 5)):
            return base
    raise RuntimeError("no four free ports in a row")


def _start_up(base: int, var: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKAGE_")}
    args = ["up", "--port-base", str(base), "--broker-port", "0", "--var-dir", str(var), "--demo-history", "1"]
    return subprocess.Popen(
        [sys.executable, "-m", "linkage.cli", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _wait_for_history(up: subprocess.Popen[bytes], manifest_path: Path) -> dict[str, Any]:
    """The manifest once `linkage up` has dealt with the demo history (loaded it, or found it loaded)."""
    deadline = time.monotonic() + 300
    while True:
        assert up.poll() is None, up.stdout.read().decode() if up.stdout else "linkage up exited"
        assert time.monotonic() < deadline, "not up with its history within 300 s"
        if manifest_path.exists():
            manifest: dict[str, Any] = json.loads(manifest_path.read_text())
            if "demo_history" in manifest:
                return manifest
        time.sleep(0.3)


@pytest.mark.skipif(bool(os.environ.get("LINKAGE_DATABASE_URL")), reason="runs the embedded PostgreSQL itself")
def test_linkage_up_starts_everything_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    base = _free_port_base()
    var = tmp_path / "var"
    up = _start_up(base, var)
    manifest_path = var / "linkage-up.json"
    try:
        manifest = _wait_for_history(up, manifest_path)
        history = manifest["demo_history"]  # `make run` passes --demo-history: loaded on the first start
        assert history["loaded_now"] is True and history["days"] == 1 and history["cases"] > 0, history
        assert set(manifest["services"]) == {"intake", "dispatch", "notify", "analytics"}
        for url in manifest["services"].values():
            assert httpx.get(f"{url}/readyz", timeout=5).status_code == 200
        demo = manifest["demo"]
        assert demo["dispatch"]["api_keys"]["handler"]["CGJ"] and demo["intake"]["wechat"]["token"]
        children = psutil.Process(up.pid).children(recursive=True)
        assert len(children) >= 5  # broker + four services
        operator = demo["intake"]["api_keys"]["operator"]["demo"]  # beside dispatch's role keys
        assert {"username": "demo", "role": "operator"}.items() <= demo["intake"]["operators"][0].items()
        r = httpx.post(
            f"{manifest['services']['intake']}/api/v1/complaints",
            timeout=10,
            json={"call_id": "up-1", "caller_phone": "13800138000", "text": "建设路12号门口井盖坏了", "kind": "投诉"},
            headers={"X-API-Key": operator},
        )
        assert r.status_code == 201, r.text
        login = httpx.post(
            f"{manifest['services']['intake']}/console/login",
            timeout=10,
            data={"username": "demo", "password": demo["intake"]["console"]["password"]},
        )
        assert login.status_code == 303 and "linkage_console" in login.cookies
    finally:
        up.send_signal(signal.SIGINT)  # Ctrl-C
        output = up.communicate(timeout=90)[0].decode()
    assert up.returncode == 0, output
    assert "stopped." in output
    time.sleep(0.5)
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    running_pg = [p for p in psutil.process_iter(["cmdline"]) if str(var / "pg") in " ".join(p.info["cmdline"] or [])]
    assert not running_pg, "the embedded PostgreSQL was stopped"

    # a second start on the same data directory finds the history there and does not load it again
    manifest_path.unlink()
    again = _start_up(base, var)
    try:
        second = _wait_for_history(again, manifest_path)["demo_history"]
        assert second["loaded_now"] is False and second["cases"] == history["cases"], second
        assert second["loaded_at"] == history["loaded_at"]
    finally:
        again.send_signal(signal.SIGINT)
        output = again.communicate(timeout=90)[0].decode()
    assert again.returncode == 0, output
    assert "demo history already loaded" in output
