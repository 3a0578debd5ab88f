"""Reliability suite: its own PostgreSQL and broker (faults never leak into other suites), a fresh set of
service processes per test (one scenario's damage cannot explain another's failure)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from linkage.chaos import HarnessTarget, Row
from shared.migrations import upgrade_all
from tests.support import Infra, Stack, start_infra, start_stack, stop_infra


@pytest.fixture(scope="package")
def fault_infra() -> Iterator[Infra]:
    infra = start_infra()
    try:
        upgrade_all(infra.settings())
        yield infra
    finally:
        if infra.postgres is not None:
            infra.start_postgres()  # a failed scenario may have left it stopped; stop_infra drops the database
        stop_infra(infra)


@pytest.fixture
def fault_stack(fault_infra: Infra) -> Iterator[Stack]:
    stack = start_stack(fault_infra)
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def target(fault_infra: Infra, fault_stack: Stack) -> HarnessTarget:
    return HarnessTarget(fault_infra, fault_stack)


def log_tails(stack: Stack, lines: int = 12) -> str:
    """The last warnings and errors of every service (why a scenario failed)."""
    out = []
    for name, svc in stack.services.items():
        notable = []
        for line in svc.log_path.read_text(errors="replace").splitlines():
            try:
                level = str(json.loads(line).get("level", ""))
            except ValueError:
                level = "raw"
            if level.lower() in ("warning", "error", "critical", "raw"):
                notable.append(line[:300])
        out.append(f"--- {name} ({svc.log_path.name}): {len(notable)} warning/error lines, last {lines}:")
        out.extend(notable[-lines:])
    return "\n".join(out)


def assert_row(row: Row, stack: Stack) -> None:
    assert not row.skipped, row.skipped
    report = "\n".join(row.problems) + "\n" + log_tails(stack)
    assert row.lost == 0, f"lost {row.lost}\n{report}"
    assert row.duplicated == 0, f"duplicated {row.duplicated}\n{report}"
    assert row.server_errors == 0, f"{row.server_errors} 5xx other than JSON 503\n{report}"
    assert row.problems == [], report
