"""Every service's OpenAPI document describes the error bodies the service really sends (``ErrorBody``), with the
status codes each operation can answer; the bodies built by the real handlers validate against that schema."""

from __future__ import annotations

import importlib
import json
from functools import cache
from typing import Any

import jsonschema
import pytest
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.testclient import TestClient
from openapi_spec_validator import OpenAPIV31SpecValidator
from pydantic import BaseModel, Field

from shared.app import BodySizeLimit, create_service_app, unavailable_response, validation_error_body
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.ratelimit import TooManyRequests

SERVICES = ("intake", "dispatch", "notify", "analytics")


@cache
def spec(service: str) -> dict[str, Any]:
    app: FastAPI = importlib.import_module(f"services.{service}.main").create_app()
    document: dict[str, Any] = app.openapi()
    return document


def operations(service: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in spec(service)["paths"].items() for method, op in ops.items()]


def error_body_schema(service: str) -> dict[str, Any]:
    """ErrorBody with its references resolved inside the service's own components."""
    components = spec(service)["components"]["schemas"]
    return {**components["ErrorBody"], "components": {"schemas": components}}


def json_schema_of(response: dict[str, Any]) -> dict[str, Any] | None:
    schema: dict[str, Any] | None = response.get("content", {}).get("application/json", {}).get("schema")
    return schema


@pytest.mark.parametrize("service", SERVICES)
def test_the_document_is_valid_openapi_3_1(service: str) -> None:
    """openapi-spec-validator: the structure, every ``$ref`` (ErrorBody, FieldProblem) and the schemas."""
    errors = [f"{e.json_path}: {e.message}" for e in OpenAPIV31SpecValidator(spec(service)).iter_errors()]
    assert not errors


@pytest.mark.parametrize("service", SERVICES)
def test_no_operation_documents_fastapis_validation_body(service: str) -> None:
    text = json.dumps(spec(service))
    assert "HTTPValidationError" not in text
    assert "ErrorBody" in spec(service)["components"]["schemas"]


@pytest.mark.parametrize("service", SERVICES)
def test_every_error_status_has_a_body_schema(service: str) -> None:
    missing = [
        f"{method.upper()} {path} {status}"
        for path, method, op in operations(service)
        for status, response in op["responses"].items()
        if int(status) >= 400 and not response.get("content")
    ]
    assert not missing


@pytest.mark.parametrize("service", SERVICES)
def test_status_codes_follow_what_the_operation_does(service: str) -> None:
    problems = []
    for path, method, op in operations(service):
        label, statuses = f"{method.upper()} {path}", set(op["responses"])
        expected = set()
        if op.get("parameters") or op.get("requestBody"):
            expected.add("422")
        if op.get("requestBody"):
            expected |= {"400", "413"}
        if op.get("security"):
            expected.add("401")
        if any(p["in"] == "path" for p in op.get("parameters", [])):
            expected.add("404")
        if missing := expected - statuses:
            problems.append(f"{label}: {sorted(missing)}")
        for status in ("429", "503"):
            if (
                status in statuses
                and path != "/readyz"
                and "Retry-After" not in op["responses"][status].get("headers", {})
            ):
                problems.append(f"{label}: {status} without Retry-After")
    assert not problems


def test_specific_operations_list_their_real_codes() -> None:
    intake = spec("intake")["paths"]
    assert {"401", "403", "404", "503"} <= set(intake["/api/v1/complaints/{complaint_id}"]["get"]["responses"])
    assert {"400", "413", "415", "422"} <= set(intake["/api/v1/app/complaints"]["post"]["responses"])
    assert "429" in intake["/api/v1/app/complaints/{tracking_code}"]["get"]["responses"]
    grid = intake["/api/v1/grid/me"]["get"]["responses"]
    assert "401" in grid and "403" not in grid  # any valid worker token may ask who it is
    dispatch = spec("dispatch")["paths"]
    assert "429" in dispatch["/api/v1/track/{code}"]["get"]["responses"]
    assert {"401", "403", "404", "409"} <= set(dispatch["/api/v1/handler/cases/{case_id}/sign"]["post"]["responses"])
    ready = spec("dispatch")["paths"]["/readyz"]["get"]["responses"]["503"]
    assert json_schema_of(ready) == {"type": "object", "required": ["ok", "service"]}  # the report, not ErrorBody
    notify = spec("notify")["paths"]
    page = notify["/survey/{token}"]["get"]["responses"]
    assert set(page["410"]["content"]) == {"text/html"}


def test_open311_errors_are_the_georeport_list() -> None:
    paths = spec("intake")["paths"]
    created = paths["/open311/v2/requests.{fmt}"]["post"]["responses"]
    assert "201" in created and "200" not in created  # what it really answers
    listing = paths["/open311/v2/requests.{fmt}"]["get"]["responses"]
    for status in ("400", "404", "429"):
        content = listing[status]["content"]
        assert set(content) == {"application/json", "text/xml"}
        assert content["application/json"]["schema"]["items"]["required"] == ["code", "description"]
    jsonschema.validate([{"code": 404, "description": "x"}], listing["404"]["content"]["application/json"]["schema"])


class _Body(BaseModel):
    text: str = Field(min_length=1)


def _real_error_bodies() -> list[dict[str, Any]]:
    """The bodies the handlers build, for each kind of error."""
    try:
        _Body.model_validate({"text": ""})
    except Exception as exc:  # noqa: BLE001 - a pydantic ValidationError
        model_error = validation_error_body(exc)  # type: ignore[arg-type]
    request_error = validation_error_body(
        RequestValidationError([{"loc": ("query", "limit"), "msg": "bad", "type": "int_parsing"}])
    )
    unavailable = unavailable_response(Request({"type": "http", "path": "/x", "headers": []}), OSError("down"))
    return [
        model_error,
        request_error,
        InvalidInput("bad", field="text").to_body(),
        NotFound("gone").to_body(),
        Forbidden("not yours", department="CGJ").to_body(),
        Conflict("state", allowed_actions=["sign"]).to_body(),
        TooManyRequests("slow down", retry_after_s=3).to_body(),
        json.loads(bytes(unavailable.body)),
    ]


@pytest.mark.parametrize("service", SERVICES)
def test_the_real_error_bodies_validate_against_the_documented_schema(service: str) -> None:
    schema = error_body_schema(service)
    for body in _real_error_bodies():
        jsonschema.validate(body, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"detail": [{"loc": ["body"], "msg": "x"}]}, schema)  # FastAPI's shape is not it


def test_framework_refusals_answer_the_same_body() -> None:
    """A body too large, an unparsable one, an unknown path: ErrorBody too, never ``{"detail": …}``."""
    app = create_service_app("probe")
    app.add_middleware(BodySizeLimit, max_bytes=50)

    @app.post("/echo")
    async def echo(body: _Body) -> dict[str, str]:
        return {"text": body.text}

    components = app.openapi()["components"]["schemas"]
    schema = {**components["ErrorBody"], "components": {"schemas": components}}
    client = TestClient(app)  # no lifespan: the routes above need no runtime
    answers = [
        client.post("/echo", content=b"x" * 100, headers={"content-type": "application/json"}),
        client.post("/echo", content=b"\xff\xfe", headers={"content-type": "application/json"}),
        client.get("/nowhere"),
        client.post("/echo", json={"text": ""}),
    ]
    assert [a.status_code for a in answers] == [413, 422, 404, 422]
    for answer in answers:
        jsonschema.validate(answer.json(), schema)
        assert "detail" not in answer.json()
