"""Schemathesis against every service's own OpenAPI: whatever the input, never a 5xx."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.support import Stack


@pytest.mark.parametrize("service", ["intake", "dispatch", "notify", "analytics"])
def test_no_generated_input_gives_a_server_error(stack: Stack, service: str) -> None:
    schema = schemathesis.openapi.from_url(f"{stack.url(service)}/openapi.json", timeout=10)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert operations, "the service documents its API"
    auth = stack.operator_headers if service == "intake" else None  # past intake's 401 into its validation
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def exercise(case: schemathesis.Case) -> None:
            response = case.call(timeout=15, headers=auth)
            if response.status_code >= 500:
                failures.append(f"{case.operation.label} → {response.status_code}: {response.text[:200]} "
                                f"(query={case.query}, body={str(case.body)[:200]})")

        exercise()
    assert not failures, "\n".join(failures[:20])


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
