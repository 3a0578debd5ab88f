"""Routing (智能派单): what happens to a new complaint, decided from the matter catalog.

- emergency (``event.emergency`` or a JJ matter) → ``transfer`` to 110/119/120/122, not dispatched;
- 咨询 whose matter has a knowledge-base answer (or any ZX matter) → ``answer`` then close at once;
- matter (the operator's ``matter_code``, else the best suggestion with confidence ≥ 0.5) + street
  → ``dispatch`` to the lead and co-handlers (属地 = the street owning the grid);
- otherwise (no matter, low confidence, 属地 matter without a street) → ``triage`` for the dispatchers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from shared.catalog import Catalog, Matter, default_catalog
from shared.events.complaints import ComplaintReceivedV1

MIN_CONFIDENCE = 0.5

Outcome = Literal["transfer", "answer", "dispatch", "triage"]


@dataclass(frozen=True)
class RoutingDecision:
    outcome: Outcome
    category: str | None
    matter_code: str | None
    lead: str | None = None
    co_handlers: list[str] = field(default_factory=list)
    emergency_service: str | None = None
    knowledge_answer: str | None = None
    confidence: float | None = None
    why: str = ""


def pick_matter(event: ComplaintReceivedV1, catalog: Catalog) -> tuple[Matter | None, float | None, str | None]:
    """(matter, confidence, category guess). The operator's matter wins; else the best suggestion."""
    if event.matter_code:
        matter = catalog.get_matter(event.matter_code)
        if matter is not None:
            return matter, 1.0, matter.category
    best = max(event.suggestions, key=lambda s: s.confidence, default=None)
    if best is None:
        return None, None, None
    matter = catalog.get_matter(best.matter_code) if best.matter_code else None
    if matter is None:
        ranked = [m for m, _ in catalog.match(event.text, limit=10) if m.category == best.category]
        matter = ranked[0] if ranked else None
    return matter, best.confidence, best.category


def route(event: ComplaintReceivedV1, catalog: Catalog | None = None) -> RoutingDecision:
    catalog = catalog or default_catalog()
    matter, confidence, category = pick_matter(event, catalog)
    code = matter.code if matter else None
    category = matter.category if matter else category
    if event.emergency is not None:
        return RoutingDecision(
            "transfer",
            category or "JJ",
            code,
            emergency_service=event.emergency.service,
            lead=event.emergency.service,
            confidence=confidence,
            why=event.emergency.reason,
        )
    if matter is not None and matter.is_emergency:
        return RoutingDecision(
            "transfer",
            "JJ",
            code,
            emergency_service=matter.emergency_service,
            lead=matter.emergency_service,
            confidence=confidence,
            why=f"matter {code} is 紧急警情",
        )
    if matter is None or (confidence is not None and confidence < MIN_CONFIDENCE):
        why = "no matter suggested" if matter is None else f"low confidence {confidence:.2f}"
        return RoutingDecision("triage", category, code, confidence=confidence, why=why)
    if event.kind == "咨询" and (matter.knowledge_answer or matter.category == "ZX"):
        return RoutingDecision(
            "answer",
            matter.category,
            code,
            knowledge_answer=matter.knowledge_answer,
            confidence=confidence,
            why="answered from the knowledge base (直接办结)",
        )
    street = event.place.street_code if event.place else None
    try:
        lead, co = catalog.resolve_handlers(matter, street)
    except (KeyError, ValueError) as exc:
        return RoutingDecision("triage", matter.category, code, confidence=confidence, why=f"no handler: {exc}")
    return RoutingDecision(
        "dispatch",
        matter.category,
        code,
        lead=lead.code,
        co_handlers=[d.code for d in co],
        confidence=confidence,
        why=f"matter {code} → {lead.code}",
    )
