"""Admin commands use the system `linkage up` started (var/linkage-up.json) when LINKAGE_DATABASE_URL is unset."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from linkage.cli import app
from shared.settings import get_settings


def test_admin_commands_read_the_running_systems_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql://postgres:@/linkage?host=/tmp/somewhere/pg"
    (tmp_path / "linkage-up.json").write_text(json.dumps({"database_url": url, "kafka_bootstrap": "127.0.0.1:19092"}))
    for name in ("LINKAGE_DATABASE_URL", "LINKAGE_KAFKA_BOOTSTRAP", "LINKAGE_DEMO_MODE"):
        monkeypatch.setenv(name, "")  # recorded, so whatever the command sets is undone after the test
        monkeypatch.delenv(name)
    monkeypatch.setenv("LINKAGE_VAR_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["calendar", "years"])
    assert result.exit_code == 0, result.output
    assert os.environ["LINKAGE_DATABASE_URL"] == url
    assert get_settings().kafka_bootstrap == "127.0.0.1:19092"
    get_settings.cache_clear()


def test_an_explicit_database_url_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "linkage-up.json").write_text(json.dumps({"database_url": "postgresql://x@/y", "kafka_bootstrap": "z"}))
    monkeypatch.setenv("LINKAGE_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("LINKAGE_DATABASE_URL", "postgresql://mine@/db")
    assert CliRunner().invoke(app, ["calendar", "years"]).exit_code == 0
    assert os.environ["LINKAGE_DATABASE_URL"] == "postgresql://mine@/db"
