"""Who follows case transitions: the one place that connects the core to the folders reacting to it.

The case core (:mod:`services.dispatch.case.flows`) tells :mod:`services.dispatch.case.hooks` listeners about
every transition. This module sits above ``case/``, ``sla/``, ``duplicate/`` and ``handoff/`` and installs them;
:func:`install_listeners` is called by every entry point that runs transitions: the service
(:func:`services.dispatch.main.create_app`, which also covers its consumers, background jobs and the demo
history import) and the tests and tools that use the flows without it. ``transition`` raises until it has been
called.

Order matters and is the order the core used to call them in: the hand-off is staged, the SLA clock follows the
case, then the cases merged into a closing master are closed (each with its own transitions).
"""

from __future__ import annotations

from services.dispatch.case.hooks import TransitionListener, set_transition_listeners
from services.dispatch.duplicate.service import MergedFollowers
from services.dispatch.handoff.service import HandoffOnTransfer
from services.dispatch.sla.service import SlaTimers


def listeners() -> list[TransitionListener]:
    """The transition listeners of the dispatch service, in the order they are told."""
    return [HandoffOnTransfer(), SlaTimers(), MergedFollowers()]


def install_listeners() -> None:
    """Install :func:`listeners` (idempotent: installing again replaces them, it does not add a second set)."""
    set_transition_listeners(listeners())
