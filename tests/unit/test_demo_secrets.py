"""Outside demo mode a service refuses to start on demo (or empty) secrets and names what to set."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from shared.settings import SECRET_SETTINGS, DemoSecretsError, Settings

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _private_values() -> dict[str, str]:
    return {name: f"private-{name}-value" for name in SECRET_SETTINGS if name in Settings.model_fields}


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("LINKAGE_")}


def test_registry_names_the_known_secrets() -> None:
    for name in ("wechat_token", "wechat_aes_key", "open311_api_keys", "grid_token_secret", "audit_key"):
        assert name in SECRET_SETTINGS and name in Settings.model_fields


def test_demo_values_outside_demo_mode_are_refused_naming_each_variable() -> None:
    settings = Settings(demo_mode=False)
    with pytest.raises(DemoSecretsError) as info:
        settings.refuse_demo_secrets()
    message = str(info.value)
    for name in SECRET_SETTINGS:
        if name in Settings.model_fields:
            assert f"LINKAGE_{name.upper()}" in message
    assert "LINKAGE_DEMO_MODE" in message


def test_one_demo_or_empty_secret_is_enough_to_refuse() -> None:
    values = _private_values()
    values["grid_token_secret"] = Settings.model_fields["grid_token_secret"].default
    values["audit_key"] = "   "
    with pytest.raises(DemoSecretsError) as info:
        Settings(demo_mode=False, **values).refuse_demo_secrets()  # type: ignore[arg-type]
    assert info.value.variables == ["LINKAGE_GRID_TOKEN_SECRET", "LINKAGE_AUDIT_KEY"]


def test_private_secrets_or_demo_mode_start() -> None:
    Settings(demo_mode=False, **_private_values()).refuse_demo_secrets()  # type: ignore[arg-type]
    Settings(demo_mode=True).refuse_demo_secrets()


def test_demo_mode_is_off_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LINKAGE_DEMO_MODE", raising=False)
    assert Settings().demo_mode is False
    monkeypatch.setenv("LINKAGE_DEMO_MODE", "true")
    assert Settings().demo_mode is True


def test_linkage_serve_without_demo_mode_exits_before_connecting() -> None:
    # nothing listens on these: the check must come before any connection attempt
    env = _clean_env() | {
        "LINKAGE_DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none",
        "LINKAGE_KAFKA_BOOTSTRAP": "127.0.0.1:9",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "linkage.cli", "serve", "intake", "--port", "9"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "refusing to start" in proc.stderr
    for name in ("LINKAGE_WECHAT_TOKEN", "LINKAGE_OPEN311_API_KEYS", "LINKAGE_GRID_TOKEN_SECRET", "LINKAGE_AUDIT_KEY"):
        assert name in proc.stderr
    assert "Uvicorn running" not in proc.stderr


def test_linkage_serve_with_private_secrets_gets_past_the_check() -> None:
    env = _clean_env() | {f"LINKAGE_{k.upper()}": v for k, v in _private_values().items()}
    env |= {"LINKAGE_DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none", "LINKAGE_KAFKA_BOOTSTRAP": "127.0.0.1:9"}
    proc = subprocess.run(
        [sys.executable, "-m", "linkage.cli", "serve", "intake", "--port", "9"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "refusing to start" not in proc.stderr + proc.stdout
    assert proc.returncode != 78


def test_linkage_serve_notify_also_checks_notify_secrets() -> None:
    from services.notify.config import NotifySettings

    env = _clean_env() | {f"LINKAGE_{k.upper()}": v for k, v in _private_values().items()}
    env |= {"LINKAGE_DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none", "LINKAGE_KAFKA_BOOTSTRAP": "127.0.0.1:9"}
    env.pop("LINKAGE_SMS_GATEWAY_SECRET", None)
    proc = subprocess.run(
        [sys.executable, "-m", "linkage.cli", "serve", "notify", "--port", "9"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if "sms_gateway_secret" in NotifySettings.model_fields:
        assert proc.returncode == 78 and "LINKAGE_SMS_GATEWAY_SECRET" in proc.stderr
        assert "LINKAGE_AUDIT_KEY" not in proc.stderr
