"""The authorization matrix finds the holes it is for: an operation neither secured nor marked public, a
secured one that answers without a credential, one that validates the body before the key (422 before 401)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.security import APIKeyHeader
from fastapi.testclient import TestClient
from pydantic import BaseModel

from linkage.authz import Credentials, run_matrix
from shared.access import public
from shared.app import install_error_handlers
from shared.errors import Unauthorized

KEY = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="DispatcherKey")


def checked(key: Annotated[str | None, Depends(KEY)] = None) -> str:
    if key != "right":
        raise Unauthorized("missing or unknown API key")
    return key


def unchecked(key: Annotated[str | None, Depends(KEY)] = None) -> str | None:
    return key  # declares the scheme, never checks it: the hole


class Body(BaseModel):
    n: int


def app() -> FastAPI:
    api = FastAPI()
    install_error_handlers(api)

    @api.get("/healthz", openapi_extra=public("probe"))
    def healthz() -> dict[str, str]:
        return {"ok": "yes"}

    @api.get("/api/v1/extra", openapi_extra=public("says so, but nobody listed it"))
    def extra() -> dict[str, str]:
        return {"ok": "yes"}

    @api.get("/api/v1/stats/summary")  # public by omission
    def summary() -> dict[str, int]:
        return {"n": 1}

    @api.get("/api/v1/good")
    def good(who: Annotated[str, Depends(checked)]) -> dict[str, str]:
        return {"who": who}

    @api.get("/api/v1/hole")
    def hole(who: Annotated[str | None, Depends(unchecked)]) -> dict[str, str | None]:
        return {"who": who}

    @api.post("/api/v1/validates-first")
    def validates_first(body: Body, who: Annotated[str, Depends(checked)]) -> dict[str, int]:
        return {"n": body.n}

    return api


def test_the_matrix_reports_each_hole() -> None:
    creds = Credentials(
        operator="o", dispatcher="d", admin="a", handlers={"X": "h"}, grid_token="w.x", grid_other_worker="v"
    )
    with TestClient(app(), base_url="http://analytics") as client:
        checks = run_matrix({"analytics": "http://analytics"}, creds, client=client)
    failed = {(c.path, c.who) for c in checks if not c.ok}
    passed = {(c.path, c.who) for c in checks if c.ok}
    assert ("/api/v1/stats/summary", "declaration") in failed  # no security, no x-linkage-access
    assert ("/api/v1/hole", "no credential") in failed and ("/api/v1/hole", "garbage DispatcherKey") in failed
    assert ("/api/v1/validates-first", "no credential") in failed  # 422 before 401
    assert {("/api/v1/good", "no credential"), ("/api/v1/good", "garbage DispatcherKey")} <= passed
    assert ("/healthz", "declaration") in passed  # marked public and listed
    assert ("/api/v1/extra", "declaration") in failed  # marked public, but not in the matrix's PUBLIC list
    assert ("/api/v1/stats/overview", "declaration") in failed  # listed public, gone from the API
