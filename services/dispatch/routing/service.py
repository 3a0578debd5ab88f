"""Routing: which department leads a case. Placeholder until the matter catalog is wired in."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.events.complaints import ComplaintReceivedV1

_PLACEHOLDER_LEADS = {
    "CG": "CGJ", "SZ": "ZJJ", "HB": "HBJ", "JT": "JTJ", "SC": "SJJ", "ZF": "ZJJ", "RS": "RSJ",
    "MZ": "MZJ", "WJ": "WJJ", "JY": "JYJ", "ZA": "GAFJ", "XF": "XFJ", "JF": "属地", "ZX": "ZX",
}


@dataclass(frozen=True)
class RoutingDecision:
    category: str | None
    matter_code: str | None
    lead: str | None
    co_handlers: list[str] = field(default_factory=list)
    limit_days: int = 5


def route(event: ComplaintReceivedV1) -> RoutingDecision:
    category = event.matter_code[:2] if event.matter_code else None
    if category is None and event.suggestions:
        category = event.suggestions[0].category
    lead = _PLACEHOLDER_LEADS.get(category or "", "属地")
    if lead == "属地":
        lead = event.place.street_code if event.place and event.place.street_code else "ZX"
    return RoutingDecision(category=category, matter_code=event.matter_code, lead=lead)
