from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from shared.migrations import upgrade_all
from shared.settings import Settings
from tests.otlp import OtlpReceiver
from tests.support import Infra, Stack, start_infra, start_stack, stop_infra

os.environ.setdefault("LINKAGE_LOG_JSON", "true")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = str(item.fspath)
        for kind in ("unit", "integration", "e2e", "reliability"):
            if f"/tests/{kind}/" in path:
                item.add_marker(getattr(pytest.mark, kind))


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    """Real PostgreSQL + real Kafka-protocol broker for the whole session, migrated."""
    infra = start_infra()
    try:
        upgrade_all(infra.settings())
        yield infra
    finally:
        stop_infra(infra)


@pytest.fixture(scope="session")
def settings(infra: Infra) -> Settings:
    return infra.settings()


@pytest.fixture(scope="session")
def otlp_receiver() -> Iterator[OtlpReceiver]:
    """A local OTLP/HTTP receiver the stack's services export their spans to."""
    receiver = OtlpReceiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()


@pytest.fixture(scope="session")
def stack(infra: Infra, otlp_receiver: OtlpReceiver) -> Iterator[Stack]:
    """The four services as real processes against the session's infrastructure, exporting spans over OTLP."""
    # a roomy queue: the fuzz and matrix tests make tens of thousands of spans before the tracing tests look
    exporting = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "OTEL_BSP_MAX_QUEUE_SIZE": "100000",
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "2048",
        # the development sink acknowledges an emergency hand-off this long after taking it: long enough for the
        # wall screen's test to see the red alert before it goes (tests/e2e/test_display.py)
        "LINKAGE_HANDOFF_SINK_ACK_DELAY_S": "25",
    }
    stack = start_stack(infra, extra_env=exporting)  # the children only (restarted ones too), not this process
    try:
        yield stack
    finally:
        stack.stop()
