"""Nothing lost, nothing doubled, under any single fault, and the system heals itself (issue #8).

Each test runs one `linkage chaos` scenario (linkage/chaos.py) against real processes and asserts, without
restarting any service it did not kill itself: one case, one receipt and one analytics projection per
acknowledged complaint, no 5xx other than JSON 503 with Retry-After, nothing dead-lettered by a fault.
"""

from __future__ import annotations

import pytest

from linkage import chaos
from linkage.chaos import HarnessTarget, Scale
from shared.settings import SERVICE_NAMES
from tests.reliability.conftest import assert_row

SCALE = Scale(complaints=60, concurrency=8, outage_s=12.0, settle_s=120.0)


def test_postgres_stopped_while_complaints_flow(target: HarnessTarget) -> None:
    row = chaos.postgres_outage_under_load(target, SCALE)
    assert_row(row, target.stack)
    assert row.unavailable > 0, "the outage was seen by the clients as JSON 503s"


def test_postgres_stopped_while_a_backlog_is_consumed(target: HarnessTarget) -> None:
    row = chaos.postgres_outage_during_backlog(target, Scale(complaints=90, outage_s=15.0, settle_s=120.0))
    assert_row(row, target.stack)
    assert row.dead_lettered == 0


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_kill_9_under_load(target: HarnessTarget, service: str) -> None:
    row = chaos.kill_service_under_load(service)(target, SCALE)
    assert_row(row, target.stack)


def test_broker_restart_mid_stream(target: HarnessTarget) -> None:
    row = chaos.broker_restart_mid_stream(target, SCALE)
    assert_row(row, target.stack)


def test_poison_records_are_dead_lettered_once_and_the_stream_continues(target: HarnessTarget) -> None:
    row = chaos.poison_on_complaints_topic(target, SCALE)
    assert_row(row, target.stack)
    assert row.dead_lettered is not None and row.dead_lettered >= 5


def test_postgres_down_every_endpoint_answers_json_503_and_readyz_recovers(target: HarnessTarget) -> None:
    row = chaos.endpoints_during_postgres_outage(target, SCALE)
    assert_row(row, target.stack)
    assert row.unavailable > 0
