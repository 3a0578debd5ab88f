"""`linkage up` (what `make run` starts) as a new user runs it: ready, demo data, Ctrl-C leaves nothing."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

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


@pytest.mark.skipif(bool(os.environ.get("LINKAGE_DATABASE_URL")), reason="runs the embedded PostgreSQL itself")
def test_linkage_up_starts_everything_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    base = _free_port_base()
    var = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKAGE_")}
    up = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "linkage.cli",
            "up",
            "--port-base",
            str(base),
            "--broker-port",
            "0",
            "--var-dir",
            str(var),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    manifest_path = var / "linkage-up.json"
    try:
        deadline = time.monotonic() + 120
        while not manifest_path.exists():
            assert up.poll() is None, up.stdout.read().decode() if up.stdout else "linkage up exited"
            assert time.monotonic() < deadline, "not up within 120 s"
            time.sleep(0.2)
        manifest = json.loads(manifest_path.read_text())
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
