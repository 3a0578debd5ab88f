"""Tests use the same disposable system as `linkage bench` (see linkage/harness.py)."""

from linkage.harness import (
    REPO,
    Infra,
    ServiceProcess,
    Stack,
    create_operator,
    start_infra,
    start_stack,
    stop_infra,
    wait_until,
)

__all__ = [
    "REPO",
    "Infra",
    "ServiceProcess",
    "Stack",
    "create_operator",
    "start_infra",
    "start_stack",
    "stop_infra",
    "wait_until",
]
