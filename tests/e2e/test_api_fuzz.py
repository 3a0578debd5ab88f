"""Schemathesis against every service's own OpenAPI: whatever the input, never a 5xx, and every answer is one the
document declares — its status code (``status_code_conformance``), its content type and its body's schema
(``response_schema_conformance``: errors are ``ErrorBody``, Open311's the GeoReport error list) — both without a
credential and with valid keys (so the generated requests get past 401/403 into validation and the handlers)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.dispatch.auth.service import create_key
from services.intake.seeds.channels import demo_workers
from tests.e2e.channels_support import DEMO
from tests.support import Infra, Stack

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = 15  # per operation, valid and invalid inputs: the whole file stays within a few minutes on two cores
REFUSED_EXAMPLES = 4  # a secured operation without its credential: every answer is the same 401

Credential = Callable[[Stack, dict[str, str]], dict[str, str] | None]
CREDENTIALS: dict[str, Credential] = {
    "none": lambda stack, keys: None,
    "operator": lambda stack, keys: stack.operator_headers,
    "dispatcher": lambda stack, keys: {"X-API-Key": keys["dispatcher"]},
    "handler": lambda stack, keys: {"X-API-Key": keys["handler"]},
    "worker": lambda stack, keys: {"X-Worker-Token": demo_workers(DEMO, 1)[0]["token"]},
}


def credential_for(path: str, schemes: set[str]) -> str | None:
    """Which of the runs' credentials gets this operation past its 401 (None: public, or none of ours)."""
    if "OperatorKey" in schemes:
        return "operator"
    if "DispatchApiKey" in schemes:
        return "handler" if path.startswith("/api/v1/handler/") else "dispatcher"
    if "DispatcherKey" in schemes:
        return "dispatcher"
    if "GridWorkerToken" in schemes:
        return "worker"
    return None


def examples_for(document: dict[str, Any], operation: Any, credential: str) -> int:
    """Public operations run without a key; a secured one briefly without, fully with its own key."""
    security = document["paths"][operation.path][operation.method.lower()].get("security", [])
    wanted = credential_for(operation.path, {name for requirement in security for name in requirement})
    if credential == "none":
        return REFUSED_EXAMPLES if wanted else EXAMPLES
    return EXAMPLES if wanted == credential else 0


@pytest.fixture(scope="module")
def dispatch_keys(infra: Infra) -> dict[str, str]:
    """A dispatcher key of the center and a handler key of a department (dispatch's own keys)."""
    return {
        "dispatcher": asyncio.run(create_key(infra.settings(), role="dispatcher", department="ZX", label="fuzz")),
        "handler": asyncio.run(create_key(infra.settings(), role="handler", department="CGJ", label="fuzz")),
    }


@pytest.mark.parametrize(
    ("service", "credential"),
    [
        ("intake", "none"),
        ("intake", "operator"),
        ("intake", "worker"),
        ("dispatch", "none"),
        ("dispatch", "dispatcher"),
        ("dispatch", "handler"),
        ("notify", "none"),
        ("notify", "dispatcher"),
        ("analytics", "none"),
    ],
)
def test_every_answer_conforms_to_the_documented_api(
    stack: Stack, dispatch_keys: dict[str, str], service: str, credential: str
) -> None:
    document = httpx.get(f"{stack.url(service)}/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert operations, "the service documents its API"
    headers = CREDENTIALS[credential](stack, dispatch_keys)
    failures: dict[str, str] = {}
    exercised = 0
    for operation in operations:
        if examples := examples_for(document, operation, credential):
            _exercise(operation, stack.url(service), headers, examples, failures)
            exercised += 1
    assert exercised, "the credential opens some operation"
    assert not failures, f"{len(failures)} kinds of non-conforming answers:\n" + "\n\n".join(
        list(failures.values())[:12]
    )


FASTAPI_DEFAULT_422 = {"type": "object", "required": ["detail"], "properties": {"detail": {"type": "array"}}}


@pytest.mark.parametrize(
    ("service", "path", "undo", "expected"),
    [
        ("analytics", "/api/v1/stats/hotspots", "fastapi-422", "Response violates schema"),
        ("dispatch", "/api/v1/track/{code}", "no-404", "Undocumented status code"),
    ],
)
def test_the_checks_catch_the_old_document(stack: Stack, service: str, path: str, undo: str, expected: str) -> None:
    """Without the error model (FastAPI's ``{detail}`` as the 422 body, or a lookup's 404 left out) the same run
    fails: the conformance checks above have teeth."""
    document = httpx.get(f"{stack.url(service)}/openapi.json", timeout=10).json()
    if undo == "fastapi-422":
        document["components"]["schemas"]["ErrorBody"] = FASTAPI_DEFAULT_422
    else:
        del document["paths"][path]["get"]["responses"]["404"]
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    operation = next(op for op in operations if op.path == path)
    failures: dict[str, str] = {}
    _exercise(operation, stack.url(service), None, 8, failures)
    assert any(expected in key for key in failures), failures


def _exercise(
    operation: Any, base_url: str, headers: dict[str, str] | None, examples: int, failures: dict[str, str]
) -> None:
    """Valid and invalid inputs for one operation; each kind of failure is kept once (no shrinking)."""

    @given(case=st.one_of(*_strategies(operation)))
    @settings(
        max_examples=examples, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
    )
    def exercise(case: schemathesis.Case) -> None:
        response = case.call(base_url=base_url, timeout=15, headers=headers)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as group:
            for failure in _flatten(group):
                key = f"{operation.label} {failure.title} {response.status_code}"
                failures.setdefault(key, _describe(operation.label, failure, case, response))

    exercise()


def _strategies(operation: Any) -> Iterator[Any]:
    yield operation.as_strategy(schemathesis.GenerationMode.POSITIVE)
    try:
        yield operation.as_strategy(schemathesis.GenerationMode.NEGATIVE)
    except Exception:  # noqa: BLE001 - an operation without inputs has no invalid form
        return


def _flatten(group: BaseExceptionGroup[Any]) -> Iterator[Failure]:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            yield from _flatten(exc)
        elif isinstance(exc, Failure):
            yield exc


def _describe(label: str, failure: Failure, case: schemathesis.Case, response: Any) -> str:
    return (
        f"{label} → {response.status_code} {response.headers.get('content-type', '')}: {failure.title}\n"
        f"  {failure.message[:400]}\n"
        f"  sent path={case.path_parameters} query={case.query} body={str(case.body)[:150]}\n"
        f"  got {response.text[:200]}"
    )


@pytest.mark.parametrize(
    ("service", "path"),
    [
        ("notify", "/dev/messages?case_id=%00x"),
        ("notify", "/api/v1/deliveries?tracking_code=a%00b"),
        ("dispatch", "/api/v1/cases?tracking_code=%00"),
        ("intake", "/api/v1/complaints/%00"),
        ("analytics", "/api/v1/open-data/cases.csv?end=0001-01-01"),
    ],
)
def test_nul_characters_and_extreme_dates_are_client_errors(stack: Stack, service: str, path: str) -> None:
    auth = stack.operator_headers if service == "intake" else None
    response = httpx.get(f"{stack.url(service)}{path}", headers=auth, timeout=10)
    assert 400 <= response.status_code < 500, response.text
    assert "error" in response.json()
