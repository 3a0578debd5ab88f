"""更正分类: a dispatcher corrects a case's kind (诉求类型), matter (事项) / category (大类) or emergency flag.

Each correction is one ``corrected`` history entry (and ``cn.linkage.case.corrected.v1`` event) whose details hold
the labels after the correction and before it. Together with the case's complaint text it is a labelled example:
``linkage classify export-corrections`` writes the latest correction of every case in the corpus format
``{"text", "kind", "category", "emergency"}`` that the classifier trains on.

A correction changes the labels only: a dispatched case keeps its handler and deadline (改派 moves those).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.case import flows
from services.dispatch.case.models import Case, CaseHistory
from shared.catalog import CATEGORY_NAMES, default_catalog
from shared.errors import InvalidInput

KINDS = ("咨询", "求助", "投诉", "举报", "建议", "表扬")
EMERGENCY_SERVICES = ("110", "119", "120", "122")
NO_EMERGENCY = "none"


@dataclass(frozen=True)
class Labels:
    kind: str
    category: str | None
    matter_code: str | None
    emergency: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "category": self.category,
            "matter_code": self.matter_code,
            "emergency": self.emergency,
        }


def labels_of(case: Case) -> Labels:
    service = (case.emergency or {}).get("service")
    return Labels(case.kind, case.category, case.matter_code, str(service) if service else None)


def corrected_labels(
    case: Case,
    *,
    kind: str | None = None,
    matter_code: str | None = None,
    category: str | None = None,
    emergency: str | None = None,
) -> Labels:
    """The labels after the correction (unchanged where nothing is given); 422 for unknown values."""
    before = labels_of(case)
    if kind is not None and kind not in KINDS:
        raise InvalidInput(f"unknown kind {kind!r}", field="kind")
    new_category = before.category
    new_matter = before.matter_code
    if matter_code:
        matter = default_catalog().get_matter(matter_code)
        if matter is None:
            raise InvalidInput(f"unknown matter {matter_code!r}", field="matter_code")
        if category and category != matter.category:
            raise InvalidInput(f"matter {matter_code} is not in category {category}", field="category")
        new_matter, new_category = matter.code, matter.category
    elif category:
        if category not in CATEGORY_NAMES:
            raise InvalidInput(f"unknown category {category!r}", field="category")
        if category != before.category:
            new_category, new_matter = category, None  # the old matter belongs to another category
    new_emergency = before.emergency
    if emergency is not None:
        if emergency == NO_EMERGENCY:
            new_emergency = None
        elif emergency in EMERGENCY_SERVICES:
            new_emergency = emergency
        else:
            raise InvalidInput(f"emergency must be one of none, {', '.join(EMERGENCY_SERVICES)}", field="emergency")
    after = Labels(kind or before.kind, new_category, new_matter, new_emergency)
    if after == before:
        raise InvalidInput("the correction changes nothing", field="kind")
    return after


async def correct(
    session: AsyncSession,
    case: Case,
    *,
    actor: str,
    kind: str | None = None,
    matter_code: str | None = None,
    category: str | None = None,
    emergency: str | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> CaseHistory:
    """Apply a correction (the state machine must allow ``correct``) and record it. Flushes."""
    if "correct" not in flows.allowed_actions(case, now):  # refuse before touching the row
        return await flows.transition(session, case, "correct", actor=actor, reason=reason, now=now)
    before = labels_of(case)
    after = corrected_labels(case, kind=kind, matter_code=matter_code, category=category, emergency=emergency)
    case.kind = after.kind
    case.category = after.category
    case.matter_code = after.matter_code
    if after.emergency != before.emergency:
        case.emergency = {"service": after.emergency, "reason": "派单员更正"} if after.emergency else None
    return await flows.transition(
        session, case, "correct", actor=actor, reason=reason, now=now, **after.as_dict(), previous=before.as_dict()
    )


async def examples(session: AsyncSession, *, batch: int = 500) -> AsyncIterator[dict[str, Any]]:
    """The latest correction of every corrected case as a corpus row ``{"text", "kind", "category",
    "emergency"}``, by case id; rows without a category (nothing to learn the category from) are left out."""
    stmt = (
        select(CaseHistory.case_id, CaseHistory.details, Case.text)
        .join(Case, Case.id == CaseHistory.case_id)
        .where(CaseHistory.action == "corrected")
        .order_by(CaseHistory.case_id, CaseHistory.seq.desc())
        .distinct(CaseHistory.case_id)
        .execution_options(yield_per=batch)
    )
    result = await session.stream(stmt)
    async for _case_id, details, text in result:
        row = example_row(details or {}, text)
        if row is not None:
            yield row


def example_row(details: dict[str, Any], text: str) -> dict[str, Any] | None:
    """One corpus row from a ``corrected`` entry's details and the complaint text (None without a category)."""
    if not details.get("category") or not details.get("kind") or not text.strip():
        return None
    return {
        "text": text,
        "kind": details["kind"],
        "category": details["category"],
        "emergency": details.get("emergency"),
    }
