"""The authorization matrix against the four running services (linkage/authz.py): every operation of every
``/openapi.json`` declares who may call it; every secured one refuses no credential and a garbage one with a
JSON 401 before looking at the body; each role is refused where it does not belong; another department's case
is refused without a word of its text; a grid token forged for another worker is refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from linkage.authz import PUBLIC, Check, Credentials, provisioned, run_matrix
from shared.access import ACCESS_KEY
from tests.support import REPO, Infra, Stack

# Routes left out of the OpenAPI on purpose: HTML pages (they call the APIs above with their own credentials)
# and the console's login form. A new hidden route must be added here, with its reason.
HIDDEN_PAGES = {
    "services/dispatch/web/routes.py": {"/track", "/handler", "/workbench"},  # pages; data via keyed APIs
    "services/intake/console/routes.py": {"/console", "/console/login", "/console/logout"},  # login form, session
    "services/analytics/display/routes.py": {"/display"},  # big screen over the public stats
    "services/analytics/reports/routes.py": {"/reports", "/reviews"},  # report over public aggregates; rating form
    "services/dispatch/handoff/routes.py": {"/dev/handoffs"},  # dev sink page (404 unless it is the adapter); keyed API
}


@pytest.fixture(scope="module")
def creds(infra: Infra, stack: Stack) -> Iterator[Credentials]:
    urls = {name: svc.url for name, svc in stack.services.items()}
    with provisioned(infra.settings(), urls) as creds:
        yield creds


@pytest.fixture(scope="module")
def checks(stack: Stack, creds: Credentials) -> list[Check]:
    return run_matrix({name: svc.url for name, svc in stack.services.items()}, creds)


def _failed(checks: list[Check], who: str | None = None, *, prefix: str | None = None) -> list[str]:
    chosen = [c for c in checks if (who is None or c.who == who) and (prefix is None or c.who.startswith(prefix))]
    assert chosen, f"no check of kind {who or prefix!r} ran"
    return [str(c) for c in chosen if not c.ok]


def test_every_operation_declares_security_or_is_a_listed_public_one(checks: list[Check]) -> None:
    declared = [c for c in checks if c.who == "declaration"]
    assert len(declared) >= 70  # the four services' operations (a broken spec walk would see none)
    assert _failed(checks, "declaration") == []
    public = {(c.service, c.method, c.path) for c in declared if c.got.startswith(ACCESS_KEY)}
    assert public == set(PUBLIC)


def test_the_keys_used_are_accepted_where_they_belong(checks: list[Check]) -> None:
    controls = [c for c in checks if "positive control" in c.who]
    assert len(controls) >= 6 and [str(c) for c in controls if not c.ok] == []


def test_no_credential_and_garbage_credentials_get_json_401(checks: list[Check]) -> None:
    assert _failed(checks, "no credential") == []
    assert _failed(checks, prefix="garbage ") == []
    secured = {(c.service, c.method, c.path) for c in checks if c.who == "no credential"}
    assert ("intake", "GET", "/api/v1/hotline/callers/{phone}/history") in secured
    assert ("notify", "POST", "/api/v1/surveys/answers") in secured


def test_public_operations_never_answer_5xx_or_accept_a_bad_post(checks: list[Check]) -> None:
    assert _failed(checks, "public, no credential, bad input") == []


@pytest.mark.parametrize(
    "who",
    [
        "handler key",
        "dispatcher key",
        "admin key",
        "intake operator key",
        "operator key (not a supervisor)",
        "operator key as a worker token",
        "handler key as a worker token",
        "token forged for another worker",
        "gateway signature under a guessed secret",
    ],
)
def test_roles_are_refused_where_they_do_not_belong(checks: list[Check], who: str) -> None:
    assert _failed(checks, who) == []


def test_role_expectations_cover_each_service(checks: list[Check]) -> None:
    def seen(service: str, who: str, status: str) -> bool:
        return any(c.service == service and c.who == who and c.got.startswith(status) for c in checks)

    assert seen("dispatch", "handler key", "403")  # on dispatcher endpoints
    assert seen("dispatch", "dispatcher key", "403")  # on handler endpoints
    assert seen("dispatch", "intake operator key", "401")
    assert seen("intake", "handler key", "403")  # on intake operator endpoints
    assert seen("notify", "handler key", "403")  # the delivery log


def test_another_departments_case_is_refused_without_its_text(checks: list[Check], creds: Credentials) -> None:
    assert creds.case is not None
    foreign = [c for c in checks if c.who.startswith("handler of ") and "positive control" not in c.who]
    actions = {c.path for c in foreign if c.service == "dispatch" and c.path.startswith("/api/v1/handler/cases/")}
    assert {"/api/v1/handler/cases/{case_id}", "/api/v1/handler/cases/{case_id}/reply"} <= actions
    assert len(actions) >= 7  # read + every handler action in the spec
    assert [str(c) for c in foreign if not c.ok] == []
    assert _failed(checks, prefix="citizen lookup, tracking code only") == []
    assert _failed(checks, "public tracking shows no phone number") == []


def test_a_grid_worker_sees_only_themself(checks: list[Check]) -> None:
    assert _failed(checks, "worker A sees only worker A") == []


def test_routes_hidden_from_the_openapi_are_known_pages() -> None:
    """The matrix walks the OpenAPI: a route left out of it must be one of the known pages."""
    pattern = re.compile(r'@router\.(?:get|post|put|patch|delete)\(\s*"([^"]+)"[^)]*include_in_schema=False', re.S)
    found: dict[str, set[str]] = {}
    for path in sorted(Path(REPO, "services").rglob("*.py")):
        hidden = set(pattern.findall(path.read_text()))
        if hidden:
            found[str(path.relative_to(REPO))] = hidden
    assert found == HIDDEN_PAGES
