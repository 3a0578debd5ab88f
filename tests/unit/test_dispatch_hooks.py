"""The case transition listeners: installed explicitly, told in order, and a transition refuses to run without
them (so a tool or test that forgets :func:`services.dispatch.wiring.install_listeners` fails at once instead of
changing cases whose SLA timers nobody keeps)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from services.dispatch.case import flows, hooks
from services.dispatch.case.models import Case
from services.dispatch.duplicate.service import MergedFollowers
from services.dispatch.handoff.service import HandoffOnTransfer
from services.dispatch.sla.service import SlaTimers
from services.dispatch.wiring import install_listeners


@pytest.fixture(autouse=True)
def _restore_listeners(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hooks, "_listeners", hooks._listeners)


def test_a_transition_without_installed_listeners_fails_before_touching_the_case(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hooks, "_listeners", None)
    case = Case(id="C1", state="dispatched", channel="hotline", lead="ZJJ", reopen_count=0)
    with pytest.raises(hooks.TransitionListenersNotInstalled, match="install_listeners"):
        asyncio.run(flows.transition(None, case, "sign"))  # type: ignore[arg-type]
    assert case.state == "dispatched"


def test_install_listeners_installs_the_service_listeners_once_in_order() -> None:
    install_listeners()
    install_listeners()
    kinds = [type(listener) for listener in hooks.transition_listeners()]
    assert kinds == [HandoffOnTransfer, SlaTimers, MergedFollowers]


def test_an_empty_install_is_deliberate_and_allowed() -> None:
    hooks.set_transition_listeners([])
    assert hooks.transition_listeners() == ()


def test_notify_tells_each_listener_in_order() -> None:
    told: list[tuple[str, str, bool]] = []

    class Listener:
        def __init__(self, name: str) -> None:
            self.name = name

        async def on_transition(self, session: Any, case: Case, change: hooks.Transition) -> None:
            told.append((self.name, change.action, change.deferred))

    hooks.set_transition_listeners([Listener("a"), Listener("b")])
    change = hooks.Transition(
        command="sign",
        action="signed",
        from_state="dispatched",
        actor="t",
        reason=None,
        now=datetime.now(UTC),
        details={},
        deferred=True,
    )
    asyncio.run(hooks.notify(None, Case(id="C1"), change))  # type: ignore[arg-type]
    assert told == [("a", "signed", True), ("b", "signed", True)]
