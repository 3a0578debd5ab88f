"""Public surfaces without infrastructure: Open311 entries redacted, paging checked, the development sink off by
default, the delivery log behind a dispatcher key, settings-driven rate limits."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from services.intake.channels.open311 import service
from services.intake.channels.open311.schemas import Open311Error
from services.intake.complaint.models import Complaint
from services.notify.config import NotifySettings
from services.notify.main import create_app as create_notify_app
from services.notify.message.routes import mask_survey_links
from shared.ratelimit import SettingsRateLimit, TooManyRequests, public_rate_limit
from shared.settings import Settings

PLANTED = "我叫王小明，电话13712345678，身份证510108199001011234，住建设路12号3栋501"
SECRETS = ("王小明", "13712345678", "510108199001011234", "12号", "3栋", "501", "wxm@example.org")


def complaint(channel: str = "open311", **extra: Any) -> Complaint:
    values: dict[str, Any] = {
        "id": "01JTESTCOMPLAINT0000000000",
        "tracking_code": "CH26112400000001",
        "channel": channel,
        "text": PLANTED,
        "address": "成华区建设路12号3栋501",
        "lat": 30.6612345,
        "lon": 104.1087654,
        "place": {"street_name": "猛追湾街道", "community_name": "望平社区", "grid_name": "望平第一网格"},
        "matter_code": "SZ002",
        "attachments": [],
        "received_at": datetime(2026, 11, 24, 8, 0, tzinfo=UTC),
    }
    values.update(extra)
    return Complaint(**values)


CASE = {"state": "dispatched", "state_name": "已派单", "lead": "CGJ", "deadline_at": None}


@pytest.mark.parametrize("channel", ["open311", "hotline", "app", "wechat"])
def test_open311_entry_shows_nothing_personal(channel: str) -> None:
    entry = service.request_entry(complaint(channel), CASE, Settings())
    shown = repr(entry)
    for secret in SECRETS:
        assert secret not in shown, (secret, entry)
    assert entry["description"] == "我叫王**，电话137****5678，身份证510108***********4，住建设路**号**栋**"
    assert (entry["lat"], entry["long"]) == (30.661, 104.109)
    assert not {"phone", "email", "first_name", "last_name", "name"} & set(entry)


def test_open311_address_is_coarse() -> None:
    assert service.request_entry(complaint("open311"), CASE, Settings())["address"] == "成华区建设路"
    # other channels: the grid's names, never the caller's own words
    assert service.request_entry(complaint("hotline"), CASE, Settings())["address"] == "猛追湾街道望平社区望平第一网格"


def test_open311_description_policy_none() -> None:
    entry = service.request_entry(complaint(), CASE, Settings(public_description_policy="none"))
    assert entry["description"] == ""


@pytest.mark.parametrize(
    ("params", "expected"),
    [({}, (0, 50)), ({"page": "3", "page_size": "20"}, (40, 20)), ({"page_size": "100"}, (0, 100))],
)
def test_open311_paging(params: dict[str, str], expected: tuple[int, int]) -> None:
    assert service.page_of(params) == expected


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"page_size": "101"}, "page_size must be between 1 and 100"),
        ({"page": "0"}, "page must be between"),
        ({"page": "two"}, "page is not a whole number"),
    ],
)
def test_open311_bad_paging_is_400(params: dict[str, str], needle: str) -> None:
    with pytest.raises(Open311Error) as err:
        service.page_of(params)
    assert err.value.code == 400 and needle in err.value.description


def _get(app: FastAPI, path: str, **kwargs: Any) -> httpx.Response:
    async def run() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notify") as client:
            return await client.get(path, **kwargs)

    return asyncio.run(run())


def test_development_sink_is_off_by_default() -> None:
    assert NotifySettings().dev_sink_enabled is False
    app = create_notify_app(Settings(), NotifySettings())
    r = _get(app, "/dev/messages", params={"tracking_code": "X"})
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert "LINKAGE_DEV_SINK_ENABLED" in r.json()["message"]


def test_development_sink_can_be_switched_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINKAGE_DEV_SINK_ENABLED", "true")
    assert NotifySettings().dev_sink_enabled is True


def test_delivery_log_needs_a_dispatcher_key() -> None:
    app = create_notify_app(Settings(), NotifySettings())
    # dispatch unreachable: a key cannot be checked (503), no key at all is 401 before anything else
    app.state.runtime = SimpleNamespace(settings=Settings(dispatch_url="http://127.0.0.1:9", dispatch_timeout_s=0.5))
    anonymous = _get(app, "/api/v1/deliveries", params={"limit": "0"})
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "unauthorized"
    keyed = _get(app, "/api/v1/deliveries", headers={"X-API-Key": "lk_d_ZX_x"})
    assert keyed.status_code == 503 and keyed.headers["Retry-After"]


def test_survey_links_are_masked_in_the_delivery_log() -> None:
    body = "【12345】已办结……回复1满意或打开 http://x/survey/AbCdEf0123456789_-xyz 评价。"
    masked = mask_survey_links(body)
    assert "AbCdEf0123456789" not in masked and "/survey/AbCd****" in masked


def _request(app: FastAPI, host: str) -> Request:
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/",
            "headers": [],
            "query_string": b"",
            "client": (host, 5000),
            "app": app,
        }
    )


def test_settings_rate_limit_per_client_and_exempt_addresses() -> None:
    app = FastAPI()
    app.state.runtime = SimpleNamespace(
        settings=Settings(public_rate_per_minute=6, public_rate_burst=3, rate_limit_exempt="10.0.0.9")
    )
    limit: SettingsRateLimit = public_rate_limit("test")
    for _ in range(3):
        limit.check(_request(app, "10.0.0.1"))
    with pytest.raises(TooManyRequests) as err:
        limit.check(_request(app, "10.0.0.1"))
    assert err.value.status_code == 429 and 1 <= err.value.retry_after_s <= 10
    assert "秒后再试" in err.value.message
    limit.check(_request(app, "10.0.0.2"))  # another client has its own bucket
    for _ in range(20):
        limit.check(_request(app, "10.0.0.9"))  # exempt
