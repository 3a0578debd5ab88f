"""An intake process that knows the test stack's dispatch URL (the shared stack's intake does not)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tests.support import Infra, ServiceProcess, Stack


@contextmanager
def wired_intake(infra: Infra, stack: Stack) -> Iterator[str]:
    svc = ServiceProcess("intake", infra, extra_env={"LINKAGE_DISPATCH_URL": stack.url("dispatch")})
    svc.start()
    try:
        yield svc.url
    finally:
        svc.stop()
