"""Intake wired to a chosen dispatch URL. The shared stack's intake already knows the stack's
dispatch (linkage/harness.py); a separate process is only needed to point it elsewhere."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tests.support import Infra, ServiceProcess, Stack


@contextmanager
def wired_intake(infra: Infra, stack: Stack, dispatch_url: str | None = None) -> Iterator[str]:
    if dispatch_url is None:
        yield stack.url("intake")
        return
    svc = ServiceProcess("intake", infra, extra_env={"LINKAGE_DISPATCH_URL": dispatch_url})
    svc.start()
    try:
        yield svc.url
    finally:
        svc.stop()
