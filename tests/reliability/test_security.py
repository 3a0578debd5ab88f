"""Security rows of `linkage chaos` against real processes (issue #8): the authorization matrix, WeChat replays,
survey forgery and audit tampering — every attempt refused (or, for tampering, reported by audit verify).

The four scenarios share one stack: none of them injects a fault, and each works on its own fresh keys and case.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from linkage import chaos_security
from linkage.chaos import HarnessTarget, Row, Scale
from tests.reliability.conftest import log_tails
from tests.support import Infra, Stack, start_stack

SCALE = Scale()


@pytest.fixture(scope="module")
def security_target(fault_infra: Infra) -> Iterator[HarnessTarget]:
    stack: Stack = start_stack(fault_infra)
    try:
        yield HarnessTarget(fault_infra, stack)
    finally:
        stack.stop()


def assert_all_denied(row: Row, target: HarnessTarget, at_least: int) -> None:
    report = "\n".join(row.problems) + "\n" + log_tails(target.stack)
    assert not row.skipped, row.skipped
    assert row.tried >= at_least, report
    assert row.denied == f"{row.tried}/{row.tried}", f"denied {row.denied}\n{report}"
    assert row.server_errors == 0 and row.problems == [], report


def test_credentials_matrix(security_target: HarnessTarget) -> None:
    row = chaos_security.credentials_matrix(security_target, SCALE)
    assert_all_denied(row, security_target, at_least=250)


def test_wechat_replays(security_target: HarnessTarget) -> None:
    row = chaos_security.wechat_replays(security_target, SCALE)
    assert_all_denied(row, security_target, at_least=15)


def test_survey_forgery(security_target: HarnessTarget) -> None:
    row = chaos_security.survey_forgery(security_target, SCALE)
    assert_all_denied(row, security_target, at_least=7)  # with the reused token (the test stack's sink is on)


def test_audit_tampering(security_target: HarnessTarget) -> None:
    row = chaos_security.audit_tampering(security_target, SCALE)
    assert_all_denied(row, security_target, at_least=4)
