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
from tests.support import Infra, Stack

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = 15  # per operation and credential: the whole file stays within a few minutes on two cores

Credential = Callable[[Stack, dict[str, str]], dict[str, str] | None]
CREDENTIALS: dict[str, Credential] = {
    "none": lambda stack, keys: None,
    "operator": lambda stack, keys: stack.operator_headers,
    "dispatcher": lambda stack, keys: {"X-API-Key": keys["dispatcher"]},
    "handler": lambda stack, keys: {"X-API-Key": keys["handler"]},
}


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
    schema = schemathesis.openapi.from_url(f"{stack.url(service)}/openapi.json", timeout=10)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert operations, "the service documents its API"
    headers = CREDENTIALS[credential](stack, dispatch_keys)
    failures: dict[str, str] = {}
    for operation in operations:
        _exercise(operation, headers, failures)
    assert not failures, f"{len(failures)} kinds of non-conforming answers:\n" + "\n\n".join(
        list(failures.values())[:12]
    )


def _exercise(operation: Any, headers: dict[str, str] | None, failures: dict[str, str]) -> None:
    """Valid and invalid inputs for one operation; each kind of failure is kept once (no shrinking)."""

    @given(case=st.one_of(*_strategies(operation)))
    @settings(
        max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
    )
    def exercise(case: schemathesis.Case) -> None:
        response = case.call(timeout=15, headers=headers)
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
