"""Authorization before validation, through the running stack: who may call (401) and on which resource (403,
404) is answered before anything about the body (422) — also for a body that is not JSON at all."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import httpx
import pytest

from services.dispatch.seeds.demo import seed
from shared.db import make_engine, make_sessionmaker
from tests.integration.dispatch_factory import add_cases, new_case
from tests.support import Infra, Stack

GARBAGE = b"{not json"
BAD_BODIES: dict[str, dict[str, Any]] = {
    "extension": {"days": 99},
    "return": {"reason": ""},
    "reply": {},
    "progress": {"note": ""},
    "report": {"note": 5},
}


@pytest.fixture(scope="module")
def keys(infra: Infra) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = asyncio.run(seed(infra.settings()))["api_keys"]
    return out


@pytest.fixture(scope="module")
def case_id(infra: Infra) -> str:
    """A signed case led by ZJJ (written straight into dispatch's schema)."""

    async def run() -> str:
        engine = make_engine(infra.settings(), "dispatch", pool_size=1)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                (case,) = await add_cases(session, [new_case(state="signed", lead="ZJJ")])
                return case.id
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _post(stack: Stack, path: str, key: str | None, body: dict[str, Any] | bytes) -> httpx.Response:
    headers = {"X-API-Key": key} if key else {}
    url = f"{stack.url('dispatch')}{path}"
    if isinstance(body, bytes):
        return httpx.post(url, content=body, headers={**headers, "content-type": "application/json"}, timeout=10)
    return httpx.post(url, json=body, headers=headers, timeout=10)


@pytest.mark.parametrize("action", sorted(BAD_BODIES))
def test_handler_actions_answer_401_403_404_before_422(
    stack: Stack, keys: dict[str, dict[str, str]], case_id: str, action: str
) -> None:
    path = f"/api/v1/handler/cases/{case_id}/{action}"
    other, own = keys["handler"]["CGJ"], keys["handler"]["ZJJ"]
    for body in (BAD_BODIES[action], GARBAGE):
        no_key = _post(stack, path, None, body)
        assert no_key.status_code == 401 and no_key.json()["error"] == "unauthorized", (body, no_key.text)
        assert _post(stack, path, "not-a-key", body).status_code == 401
        foreign = _post(stack, path, other, body)
        assert foreign.status_code == 403 and foreign.json()["error"] == "forbidden", (body, foreign.text)
        dispatcher = _post(stack, path, keys["dispatcher"]["ZX"], body)
        assert dispatcher.status_code == 403, (body, dispatcher.text)  # a dispatcher key is no handler key
        missing = _post(stack, f"/api/v1/handler/cases/01NOSUCHCASE{secrets.token_hex(7).upper()}/{action}", own, body)
        assert missing.status_code == 404, (body, missing.text)
        # only the department that handles the case learns that its body is wrong
        mine = _post(stack, path, own, body)
        assert mine.status_code == 422, (body, mine.text)


def test_dispatcher_actions_answer_401_403_before_422(
    stack: Stack, keys: dict[str, dict[str, str]], case_id: str
) -> None:
    path = f"/api/v1/dispatch/cases/{case_id}/reassign"
    for body in ({"lead": 5}, GARBAGE):
        assert _post(stack, path, None, body).status_code == 401
        handler = _post(stack, path, keys["handler"]["ZJJ"], body)
        assert handler.status_code == 403, handler.text
        assert _post(stack, path, keys["dispatcher"]["ZX"], body).status_code == 422


def test_grid_token_before_the_body(stack: Stack) -> None:
    url = f"{stack.url('intake')}/api/v1/grid/reports"
    for headers, content in (
        ({"content-type": "application/json"}, GARBAGE),
        ({"content-type": "multipart/form-data; boundary=x"}, b"--x\r\ngarbage"),
        ({"content-type": "text/plain"}, b"hello"),
    ):
        r = httpx.post(url, content=content, headers=headers, timeout=10)
        assert r.status_code == 401 and r.json()["error"] == "unauthorized", (headers, r.text)
        forged = httpx.post(url, content=content, headers={**headers, "X-Worker-Token": "w1.forged"}, timeout=10)
        assert forged.status_code == 401, forged.text


def test_survey_link_before_the_body(stack: Stack) -> None:
    url = f"{stack.url('notify')}/api/v1/surveys/{secrets.token_urlsafe(24)}"
    for content in (GARBAGE, b'{"answer": "9"}'):
        r = httpx.post(url, content=content, headers={"content-type": "application/json"}, timeout=10)
        assert r.status_code == 404 and r.json()["error"] == "survey_link_not_found", r.text
