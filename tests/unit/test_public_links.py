"""Survey links are absolute: `linkage up` gives every service its own address as LINKAGE_PUBLIC_BASE_URL (an
operator's own setting wins), and notify builds the link from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from linkage.up import Stack
from services.notify.message.service import survey_link

PORTS = {"intake": 8001, "dispatch": 8002, "notify": 8003, "analytics": 8004}


def test_linkage_up_gives_each_service_its_own_public_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LINKAGE_PUBLIC_BASE_URL", raising=False)
    stack = Stack(var_dir=Path("var"), ports=PORTS)
    assert stack.service_env("notify")["LINKAGE_PUBLIC_BASE_URL"] == "http://127.0.0.1:8003"
    assert stack.service_env("intake")["LINKAGE_PUBLIC_BASE_URL"] == "http://127.0.0.1:8001"


def test_an_operators_public_address_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINKAGE_PUBLIC_BASE_URL", "https://12345.chenghua.gov.cn")
    stack = Stack(var_dir=Path("var"), ports=PORTS)
    assert stack.service_env("notify")["LINKAGE_PUBLIC_BASE_URL"] == "https://12345.chenghua.gov.cn"


def test_the_survey_link_is_built_on_the_public_address() -> None:
    assert survey_link("http://127.0.0.1:8003/", "tok") == "http://127.0.0.1:8003/survey/tok"
