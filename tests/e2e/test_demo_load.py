"""``linkage demo``: the history import and a short load run against the running stack move the analytics figures,
through the real HTTP APIs with the demo credentials, without errors."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from linkage.demo import Target, preload_history, run_load
from linkage.up import run_seeds
from shared.settings import SERVICE_NAMES
from tests.e2e.test_solved_on_spot import rows
from tests.support import REPO, Infra, Stack, wait_until


@pytest.fixture(scope="module")
def manifest(stack: Stack, infra: Infra) -> dict[str, Any]:
    """What `linkage up` would have written for this stack: its URLs and the demo seeds' credentials."""
    return {"services": {name: stack.url(name) for name in SERVICE_NAMES}, "demo": run_seeds(infra.settings())}


def summary(stack: Stack) -> dict[str, Any]:
    return dict(httpx.get(f"{stack.url('analytics')}/api/v1/stats/summary", timeout=10).json())


def test_history_import_backdates_cases_and_needs_an_admin_key(
    stack: Stack, infra: Infra, manifest: dict[str, Any]
) -> None:
    target = Target.from_manifest(manifest)
    url = f"{target.dispatch}/api/v1/dispatch/demo/history"
    one = {"complaint": {"channel": "hotline", "text": "路灯不亮", "received_at": datetime.now(UTC).isoformat()}}
    assert httpx.post(url, json={"cases": [one]}).status_code == 401
    assert httpx.post(url, json={"cases": [one]}, headers={"X-API-Key": target.dispatcher_key}).status_code == 403
    future = {"complaint": {**one["complaint"], "received_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}}
    refused = httpx.post(url, json={"cases": [future]}, headers={"X-API-Key": target.admin_key})
    assert refused.status_code == 422 and refused.json()["fields"][0]["field"] == "cases.0.complaint.received_at"

    totals = preload_history(target, 2, seed=11)
    assert totals["cases"] >= 100 and totals["steps"] >= totals["cases"], totals
    assert totals["states"].get("closed", 0) > 0 and totals["states"].get("signed", 0) > 0

    yesterday = (datetime.now(UTC) - timedelta(days=1)).astimezone(ZoneInfo("Asia/Shanghai")).date()

    def counted_in_the_past() -> int:
        found = rows(
            infra,
            "analytics",
            "SELECT coalesce(sum(count), 0) AS n FROM daily_counts WHERE action = 'created' AND day <= :d",
            d=yesterday,
        )
        return int(found[0]["n"])

    wait_until(lambda: counted_in_the_past() >= totals["cases"] // 2, timeout_s=90, message="past days counted")
    closed_before_today = rows(
        infra,
        "analytics",
        "SELECT count(*) AS n FROM measure_facts WHERE kind = 'closed' AND at < now() - interval '1 hour'",
    )
    assert closed_before_today[0]["n"] > 0
    # history's emergencies were acknowledged in the past: no alert for them now
    waiting = httpx.get(
        f"{target.dispatch}/api/v1/dispatch/handoffs",
        headers={"X-API-Key": target.dispatcher_key},
        params={"state": "unacknowledged", "limit": 200},
    ).json()
    old = datetime.now(UTC) - timedelta(hours=1)
    assert all(datetime.fromisoformat(h["transferred_at"]) > old for h in waiting["items"])


def test_load_moves_the_counters_without_errors(stack: Stack, manifest: dict[str, Any]) -> None:
    target = Target.from_manifest(manifest)
    before = summary(stack)
    report = asyncio.run(run_load(target, rate=3.0, duration=20, seed=5, drain_s=20))
    assert report.errors == [], report.errors[:5]
    assert report.total_filed >= 30 and len(report.filed) >= 4, report.filed
    assert report.actions["sign"] > 0 and report.actions["reply"] > 0 and report.actions["survey"] > 0, report.actions
    after = wait_until(
        lambda: (s := summary(stack))["cases_created"] >= before["cases_created"] + report.total_filed and s,
        timeout_s=60,
        message="every filed complaint counted",
    )
    moved = {a: after["by_action"].get(a, 0) - before["by_action"].get(a, 0) for a in after["by_action"]}
    assert moved["closed"] > 0 and moved["replied"] > 0 and moved["signed"] > 0 and moved["surveyed"] > 0, moved
    assert moved.get("transferred", 0) + moved.get("merged", 0) + moved.get("solved_on_spot", 0) > 0, moved
    grew = {c for c, n in after["by_channel"].items() if n > before["by_channel"].get(c, 0)}
    assert len(grew) >= 4, grew
    assert report.after.get("volume", 0) >= report.before.get("volume", 0)  # the display's day figures


def test_cli_runs_against_a_manifest(stack: Stack, manifest: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "linkage-up.json"
    path.write_text(json.dumps(manifest, ensure_ascii=False))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "linkage.cli",
            "demo",
            "load",
            "--rate",
            "2",
            "--duration",
            "4",
            "--drain",
            "4",
            "--manifest",
            str(path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "受理" in done.stdout and "错误" in done.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "linkage.cli", "demo", "load", "--manifest", str(tmp_path / "none.json")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2 and "linkage up" in missing.stdout
