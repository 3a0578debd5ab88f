"""Schemathesis against every service's own OpenAPI: whatever the input, never a 5xx."""

from __future__ import annotations

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
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def exercise(case: schemathesis.Case) -> None:
            response = case.call(timeout=15)
            if response.status_code >= 500:
                failures.append(f"{case.operation.label} → {response.status_code}: {response.text[:200]} "
                                f"(query={case.query}, body={str(case.body)[:200]})")

        exercise()
    assert not failures, "\n".join(failures[:20])
