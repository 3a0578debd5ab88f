"""Integration tests get their own database and topic prefix on the session's PostgreSQL and broker, so the
end-to-end stack's relays, consumers and background jobs (which share the session's database) never take
their rows or read their records, and theirs never reach the stack."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator

import pytest

from linkage.harness import _with_database
from linkage.infra import drop_database, ensure_database
from services.dispatch.wiring import install_listeners
from shared.migrations import upgrade_all
from shared.settings import Settings
from tests.support import Infra


@pytest.fixture(scope="package")
def infra(infra: Infra) -> Iterator[Infra]:
    tag = uuid.uuid4().hex[:6]
    name = f"{infra.database_name}_int{tag}"
    ensure_database(infra.admin_url, name)
    own = dataclasses.replace(
        infra,
        database_url=_with_database(infra.database_url, name),
        database_name=name,
        topic_prefix=f"{infra.topic_prefix}i{tag}.",
        group_prefix=f"{infra.group_prefix}i{tag}.",
    )
    upgrade_all(own.settings())
    try:
        yield own
    finally:
        try:
            drop_database(infra.admin_url, name)
        except Exception as exc:  # noqa: BLE001 - the session's teardown drops the server anyway
            print(f"could not drop {name}: {exc!r}")


@pytest.fixture(scope="package")
def settings(infra: Infra) -> Settings:
    return infra.settings()


@pytest.fixture(scope="package", autouse=True)
def dispatch_listeners() -> None:
    """Dispatch's flows run here without its app: install the transition listeners its ``create_app`` installs
    (SLA timers, 并单 followers, hand-offs; ``transition`` raises without them)."""
    install_listeners()
