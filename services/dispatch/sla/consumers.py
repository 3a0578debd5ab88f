"""Dispatch follows its own case events (group ``dispatch-sla``) to keep timers and duplicates in step.

Every transition of a case is one ``CaseEventV1`` on ``linkage.dispatch.cases.v1`` (key: case id, so
in order per case). For ``created`` the case is checked for duplicates (merge or suggest); for every
other action :func:`services.dispatch.sla.service.on_case_transition` re-plans the case's timers.
Exactly once per event (processed_events in the same transaction); all operations are idempotent,
so the flows may also call ``on_case_transition`` directly in their own transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.case.models import Case
from services.dispatch.duplicate.service import merge_or_suggest
from services.dispatch.sla.service import on_case_transition
from shared.consumer import ConsumedEvent
from shared.events.cases import CaseEventV1

#: Escalation notices and other self-loops that never change timers.
_NO_TIMER_CHANGE = frozenset({"warned", "urged", "supervised", "publicized", "progressed", "surveyed",
                              "extension_requested", "extension_denied", "return_denied", "returned",
                              "return_approved", "triaged"})


async def handle_case_events(session: AsyncSession, events: Sequence[ConsumedEvent]) -> None:
    payloads = [e.payload for e in events if isinstance(e.payload, CaseEventV1)]
    relevant = [p for p in payloads if p.action not in _NO_TIMER_CHANGE]
    if not relevant:
        return
    ids = sorted({p.case_id for p in relevant})
    cases = {c.id: c for c in (await session.execute(
        select(Case).where(Case.id.in_(ids)).order_by(Case.id).with_for_update())).scalars()}
    for p in relevant:
        case = cases.get(p.case_id)
        if case is None:
            continue
        if p.action == "created":
            await merge_or_suggest(session, case)
        elif p.action == "merged" and case.state != "merged":
            continue  # the case left the merged state since; its later events re-plan the timers
        else:
            await on_case_transition(session, case, p.action, now=p.at)
