"""The database or broker away → a JSON 503 with Retry-After answered inside the app (never re-raised, so the
server keeps the connection); a bug → a JSON 500, never text/plain."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from shared.app import install_error_handlers


def _app(exc: Exception) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise exc

    return app


@pytest.mark.parametrize(
    "exc",
    [
        FileNotFoundError(2, "No such file or directory: '/tmp/pg/.s.PGSQL.5432'"),
        ConnectionRefusedError(111, "Connection refused"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly")),
        KafkaConnectionError("no broker"),
    ],
)
def test_infrastructure_faults_are_json_503_with_retry_after(exc: Exception) -> None:
    # raise_server_exceptions=True: an exception re-raised past the app (what makes uvicorn drop the
    # connection) fails this test
    with TestClient(_app(exc)) as client:
        response = client.get("/boom")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/json"
    assert response.headers["retry-after"] == "5"
    assert response.json()["error"] == "service_unavailable"


def test_a_bug_is_a_json_500() -> None:
    with TestClient(_app(ZeroDivisionError("bug")), raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert response.json()["error"] == "internal_error"
