"""`linkage operators create|rotate-key|disable|enable|list` against the real database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from linkage.cli import app
from services.intake.operators import service
from shared.db import make_engine, make_sessionmaker
from shared.settings import Settings, get_settings
from tests.support import Infra


@pytest.fixture
def cli_env(infra: Infra, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("LINKAGE_DATABASE_URL", infra.database_url)
    get_settings.cache_clear()
    yield infra.settings()
    get_settings.cache_clear()


def _account(settings: Settings, username: str) -> tuple[str | None, str | None, bool]:
    async def read() -> tuple[str | None, str | None, bool]:
        engine = make_engine(settings, "intake", pool_size=1)
        try:
            async with make_sessionmaker(engine)() as session:
                op = await service.get_by_username(session, username)
                assert op is not None
                return op.password_hash, op.api_key_hash, op.disabled
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_operator_lifecycle_from_the_command_line(cli_env: Settings) -> None:
    runner = CliRunner()
    username = f"wang-{uuid.uuid4().hex[:6]}"
    created = runner.invoke(
        app,
        [
            "operators",
            "create",
            "--username",
            username,
            "--role",
            "supervisor",
            "--display-name",
            "王班长",
            "--password",
            "s3cret-pass",
        ],
    )
    assert created.exit_code == 0, created.output
    key = created.output.strip()
    password_hash, key_hash, disabled = _account(cli_env, username)
    assert key.startswith("lko_") and key_hash == service.hash_key(key) and not disabled
    assert service.verify_password("s3cret-pass", password_hash) and "s3cret-pass" not in str(password_hash)

    again = runner.invoke(app, ["operators", "create", "--username", username, "--password", "another-pass"])
    assert again.exit_code == 2 and "already exists" in again.output
    bad = runner.invoke(app, ["operators", "create", "--username", "x y", "--no-password"])
    assert bad.exit_code == 2

    prompted = runner.invoke(
        app, ["operators", "create", "--username", f"{username}-2"], input="pw-12345678\npw-12345678\n"
    )
    assert prompted.exit_code == 0 and prompted.output.strip().splitlines()[-1].startswith("lko_")

    rotated = runner.invoke(app, ["operators", "rotate-key", username])
    assert rotated.exit_code == 0 and rotated.output.strip() != key
    assert _account(cli_env, username)[1] == service.hash_key(rotated.output.strip())

    assert runner.invoke(app, ["operators", "disable", username]).exit_code == 0
    assert _account(cli_env, username)[2] is True
    listed = runner.invoke(app, ["operators", "list"])
    assert f"{username}\tsupervisor\t王班长\tdisabled" in listed.output
    assert runner.invoke(app, ["operators", "enable", username]).exit_code == 0
    assert runner.invoke(app, ["operators", "disable", "nobody-at-all"]).exit_code == 2
