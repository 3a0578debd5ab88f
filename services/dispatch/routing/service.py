"""Routing (智能派单): what happens to a new complaint, decided from the classifier's output and the matter catalog.

- emergency (``event.emergency`` or a JJ matter) → ``transfer`` to 110/119/120/122, not dispatched;
- the matter: the one intake set (``matter_code``: the operator's, or the classifier's when it was sure), else the
  first suggestion when the classifier marked it ``auto_route`` (sure enough for 95 % category precision); an
  older event without ``auto_route`` falls back to the best suggestion with confidence ≥ :data:`MIN_CONFIDENCE`;
- 咨询 whose matter has a knowledge-base answer (or any ZX matter) → ``answer`` then close at once;
- matter + street → ``dispatch`` to the lead and co-handlers (属地 = the street owning the grid);
- otherwise → ``triage`` for the dispatchers, with a reason in Chinese that names what is missing
  ("分类把握不足（62%），请人工确认", "属地事项需要街道，但地址未定位到网格").

Machine fields (``outcome``, codes) stay English; ``why`` is what a person reads in the case history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from shared.catalog import Catalog, Matter, default_catalog
from shared.catalog.models import CATEGORY_NAMES, TERRITORIAL
from shared.events.complaints import CategorySuggestion, ComplaintReceivedV1

MIN_CONFIDENCE = 0.5
"""For events without the classifier's ``auto_route`` (older intake): the least matter confidence routed alone."""

Outcome = Literal["transfer", "answer", "dispatch", "triage"]

EMERGENCY_NAMES = {"110": "110 报警", "119": "119 消防", "120": "120 急救", "122": "122 交通事故"}


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


@dataclass(frozen=True)
class _Pick:
    """The matter routing works with, how sure it is, and whether a person chose or confirmed it."""

    matter: Matter | None
    confidence: float | None
    category: str | None
    sure: bool
    suggestion: CategorySuggestion | None = None


def _percent(value: float | None) -> str:
    return f"{round((value or 0.0) * 100)}%"


def _matter_label(matter: Matter) -> str:
    return f"「{matter.name}」（{matter.code}）"


def _category_label(code: str | None) -> str:
    return CATEGORY_NAMES.get(code or "", code or "未知类别")


def _pick(event: ComplaintReceivedV1, catalog: Catalog) -> _Pick:
    if event.matter_code:
        matter = catalog.get_matter(event.matter_code)
        if matter is not None:
            return _Pick(matter, 1.0, matter.category, True)
    if not event.suggestions:
        return _Pick(None, None, None, False)
    first = event.suggestions[0]
    if first.auto_route is not None:  # the classifier decided (top category first)
        best = first
        sure = first.auto_route
    else:  # an older event: the most confident suggestion, sure above MIN_CONFIDENCE
        best = max(event.suggestions, key=lambda s: s.confidence)
        sure = best.confidence >= MIN_CONFIDENCE
    matter = catalog.get_matter(best.matter_code) if best.matter_code else None
    if matter is None:
        ranked = [m for m, _ in catalog.match(event.text, limit=10) if m.category == best.category]
        matter = ranked[0] if ranked else None
    confidence = best.category_confidence if best.category_confidence is not None else best.confidence
    return _Pick(matter, confidence, best.category, sure, best)


def pick_matter(event: ComplaintReceivedV1, catalog: Catalog) -> tuple[Matter | None, float | None, str | None]:
    """(matter, confidence, category guess). The matter intake set wins; else the classifier's first suggestion."""
    p = _pick(event, catalog)
    return p.matter, p.confidence, p.category


def _unsure_reason(p: _Pick) -> str:
    s = p.suggestion
    if s is not None and s.auto_route is not None:
        what = _category_label(s.category)
        if p.matter is not None:
            what += f"·{p.matter.name}"
        return f"分类把握不足（{_percent(p.confidence)}，最可能是{what}），请人工确认"
    return f"分类把握不足（{_percent(p.confidence)}），请人工确认"


def route(event: ComplaintReceivedV1, catalog: Catalog | None = None) -> RoutingDecision:
    catalog = catalog or default_catalog()
    p = _pick(event, catalog)
    matter, confidence = p.matter, p.confidence
    code = matter.code if matter else None
    category = matter.category if matter else p.category
    if event.emergency is not None:
        service = event.emergency.service
        reason = f"紧急警情：{event.emergency.reason}，转{EMERGENCY_NAMES.get(service, service)}"
        return RoutingDecision(
            "transfer",
            category or "JJ",
            code,
            emergency_service=service,
            lead=service,
            confidence=confidence,
            why=reason if event.emergency.reason else f"紧急警情，转{EMERGENCY_NAMES.get(service, service)}",
        )
    if matter is not None and matter.emergency_service:
        service = matter.emergency_service
        return RoutingDecision(
            "transfer",
            "JJ",
            code,
            emergency_service=service,
            lead=service,
            confidence=confidence,
            why=f"事项{_matter_label(matter)}属紧急警情，转{EMERGENCY_NAMES.get(service, service)}",
        )
    if matter is None:
        why = "未能判断事项，请人工分类" if p.suggestion is None else "分类结果没有对应的事项，请人工分类"
        return RoutingDecision("triage", category, None, confidence=confidence, why=why)
    if not p.sure:
        return RoutingDecision("triage", category, code, confidence=confidence, why=_unsure_reason(p))
    if event.kind == "咨询" and (matter.knowledge_answer or matter.category == "ZX"):
        return RoutingDecision(
            "answer",
            matter.category,
            code,
            knowledge_answer=matter.knowledge_answer,
            confidence=confidence,
            why=f"咨询事项{_matter_label(matter)}，按知识库答复，直接办结",
        )
    street = event.place.street_code if event.place else None
    needs_street = TERRITORIAL in (matter.lead, *matter.co_handlers)
    if needs_street and street is None:
        return RoutingDecision(
            "triage",
            matter.category,
            code,
            confidence=confidence,
            why=f"属地事项需要街道，但地址未定位到网格（事项{_matter_label(matter)}），请人工派单",
        )
    try:
        lead, co = catalog.resolve_handlers(matter, street)
    except (KeyError, ValueError):
        where = event.place.street_name or street if event.place else street
        return RoutingDecision(
            "triage",
            matter.category,
            code,
            confidence=confidence,
            why=f"事项{_matter_label(matter)}找不到承办单位（街道：{where or '未知'}），请人工派单",
        )
    why = f"事项{_matter_label(matter)}派{lead.name}"
    if co:
        why += "，协办：" + "、".join(d.name for d in co)
    return RoutingDecision(
        "dispatch",
        matter.category,
        code,
        lead=lead.code,
        co_handlers=[d.code for d in co],
        confidence=confidence,
        why=why,
    )
