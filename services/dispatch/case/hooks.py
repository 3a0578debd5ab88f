"""What a case transition tells the rest of dispatch: the one interface between the core and its followers.

:func:`services.dispatch.case.flows.transition` is the core: it changes the case, records the history entry and
stages the case event. What else follows from a transition lives in the folders that own it and reacts to it
through this module, so ``case/`` imports none of them:

- ``sla/`` replans, cancels or starts the case's timers (:class:`services.dispatch.sla.service.SlaTimers`);
- ``duplicate/`` closes the cases merged into a master that closes
  (:class:`services.dispatch.duplicate.service.MergedFollowers`);
- ``handoff/`` stages the hand-off of a transferred case to 110/119/120/122
  (:class:`services.dispatch.handoff.service.HandoffOnTransfer`).

They are put in place by :func:`services.dispatch.wiring.install_listeners`, which every entry point calls (the
service's ``create_app``, tests and tools that use the flows without the service). Until it has been called,
``transition`` raises :class:`TransitionListenersNotInstalled` instead of changing a case whose timers nobody
would then keep: forgetting it fails at once, it never silently skips the SLA clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.case.models import Case


@dataclass(frozen=True)
class Transition:
    """One applied transition, as listeners see it (the case row already carries the new state)."""

    command: str  # the command applied (``dispatch``, ``close`` …)
    action: str  # the recorded action (``dispatched``, ``closed`` …)
    from_state: str
    actor: str
    reason: str | None
    now: datetime
    details: Mapping[str, Any]  # the action's parameters and effects (as recorded in the history entry)
    #: ``transition(defer=True)``: a case created in this transaction (or locked by the SLA scanner's batch), not
    #: flushed yet; the caller writes the batch and its timers itself. Listeners only stage rows then.
    deferred: bool


class TransitionListener(Protocol):
    """Something that follows case transitions. Called in the transition's session and transaction, after the
    row update (and its flush, unless deferred), in the order installed; it may run further transitions."""

    async def on_transition(self, session: AsyncSession, case: Case, change: Transition) -> None: ...


class TransitionListenersNotInstalled(RuntimeError):
    """A transition was attempted before :func:`services.dispatch.wiring.install_listeners`."""


_listeners: tuple[TransitionListener, ...] | None = None


def set_transition_listeners(listeners: Iterable[TransitionListener]) -> None:
    """Install the listeners (replacing any installed before, so installing twice registers nothing twice).
    An empty list is a deliberate "nothing follows transitions"; only never installing is an error."""
    global _listeners
    _listeners = tuple(listeners)


def transition_listeners() -> tuple[TransitionListener, ...]:
    """The installed listeners; raises :class:`TransitionListenersNotInstalled` when none were ever installed."""
    if _listeners is None:
        raise TransitionListenersNotInstalled(
            "no case transition listeners installed: call services.dispatch.wiring.install_listeners() where "
            "dispatch starts (SLA timers, 并单 followers and emergency hand-offs follow transitions through them)"
        )
    return _listeners


async def notify(session: AsyncSession, case: Case, change: Transition) -> None:
    """Tell every installed listener about ``change``, in order."""
    for listener in transition_listeners():
        await listener.on_transition(session, case, change)
