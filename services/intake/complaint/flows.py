"""Enrichment of a complaint draft before it is stored: place (grid) and classification.

Every channel builds a :class:`ComplaintDraft` and calls :func:`enrich` once:

- a WGS-84 ``location`` → its grid (属地) through the district map; a point outside the district is flagged
  (``place.outside_district``, no grid) and dispatch sends the case to triage;
- else an ``address`` text → the gazetteer: ``resolved`` gives a point (source ``gazetteer``) and its grid, or
  only the street/community when that is all it names; ``ambiguous`` / ``unresolved`` only set
  ``address_status`` — an address is never guessed silently;
- else an address written inside the ``text`` (``我在双林路66号这边…``) is extracted and resolved the same way;
- the text → the classifier: ``kind`` (when the channel did not give one), up to three suggestions
  ``{category, matter_code, confidence}``, ``category`` / ``matter_code`` when the model is sure, and the
  emergency flag (转 110/119/120/122).

What the channel gave explicitly always wins over what the model thinks.
"""

from __future__ import annotations

import asyncio
from typing import Any, overload

from services.intake.classify import Classification, classify
from services.intake.classify.emergency import detect_emergency
from services.intake.complaint.schemas import ComplaintDraft
from services.intake.places import GridRef, default_places
from services.intake.places.flows import placement
from shared.catalog import Matter, default_catalog
from shared.events.complaints import EmergencyFlag, PlaceRef

# The category and matter are set without a human when the classifier says ``auto_route`` (its top category's
# calibrated confidence reaches that category's threshold, tuned for 95 % precision: docs/classification.md).
# A wrong pick is corrected by 退单 → 改派.


@overload
def place_ref(grid: GridRef) -> PlaceRef: ...
@overload
def place_ref(grid: None) -> None: ...
def place_ref(grid: GridRef | None) -> PlaceRef | None:
    if grid is None:
        return None
    return PlaceRef(
        street_code=grid.street_code,
        street_name=grid.street_name,
        community_code=grid.community_code,
        community_name=grid.community_name,
        grid_code=grid.grid_code,
        grid_name=grid.grid_name,
    )


def _locate(draft: ComplaintDraft, update: dict[str, Any]) -> None:
    if draft.place is not None and draft.place.grid_code:
        return  # the channel already knows the grid (e.g. a grid worker's own grid)
    # the point (a point outside the district is flagged, never given an inside grid), else the written
    # address, else an address written inside the text (a WeChat or app message, an operator's summary)
    found = placement(draft.location, draft.address, draft.text)
    if found.place is not None:
        update["place"] = found.place
    if found.location is not None:
        update["location"] = found.location
    if found.address is not None:
        update["address"] = found.address
    if found.address_status != "none":
        update["address_status"] = found.address_status


def suggestions_of(result: Classification) -> list[dict[str, Any]]:
    """Top three suggestions, best first: the best matter of each of the top-3 categories when the catalog has
    them, else bare categories. The first carries the classifier's ``auto_route`` decision for dispatch."""
    if result.matters:
        category_conf = {c.code: c.confidence for c in result.categories}
        out = [
            {
                "category": m.category,
                "matter_code": m.code,
                "matter_name": m.name,
                "confidence": round(m.confidence, 4),
                "category_confidence": round(category_conf.get(m.category, 0.0), 4),
            }
            for m in result.matters[:3]
        ]
    else:
        out = [
            {"category": c.code, "matter_code": None, "confidence": round(c.confidence, 4)}
            for c in result.categories[:3]
        ]
    if out:
        out[0]["auto_route"] = result.auto_route and out[0]["category"] == result.category
    return out


def _operator_classified(draft: ComplaintDraft, update: dict[str, Any]) -> bool:
    """The operator already chose kind and matter: only the (cheap) emergency rules still run."""
    if not (draft.kind and draft.matter_code) or draft.emergency is not None:
        return False
    hit = detect_emergency(draft.text)
    given = default_catalog().get_matter(draft.matter_code)
    if hit is not None:
        update["emergency"] = EmergencyFlag(service=hit.service, reason=hit.reason)  # type: ignore[arg-type]
    elif given is not None and given.emergency_service is not None:
        update["emergency"] = EmergencyFlag(service=given.emergency_service, reason=given.name)
    return True


def knowledge_matter(text: str) -> Matter | None:
    """For a 咨询: the catalog matter with a knowledge-base answer that the text names, specific matters
    before catch-alls (so dispatch can answer and close it at once: 直接办结)."""
    candidates = [(m, score) for m, score in default_catalog().match(text, limit=20) if m.knowledge_answer]
    if not candidates:
        return None
    candidates.sort(key=lambda ms: (ms[0].generic, -ms[1], ms[0].code))
    return candidates[0][0]


def _classify(draft: ComplaintDraft, update: dict[str, Any]) -> None:
    if _operator_classified(draft, update):
        return
    result = classify(draft.text, draft.channel)
    if draft.kind is None:
        update["kind"] = result.kind
    update["suggestions"] = suggestions_of(result)
    catalog = default_catalog()
    given = catalog.get_matter(draft.matter_code) if draft.matter_code else None
    if draft.emergency is None:
        if result.emergency is not None:
            update["emergency"] = EmergencyFlag(service=result.emergency.service, reason=result.emergency.reason)
        elif given is not None and given.emergency_service is not None:
            update["emergency"] = EmergencyFlag(service=given.emergency_service, reason=given.name)
    if draft.matter_code or draft.category:
        return
    if (draft.kind or result.kind) == "咨询" and (answer := knowledge_matter(draft.text)) is not None:
        update["matter_code"], update["category"] = answer.code, answer.category
        return
    if not result.auto_route or not result.categories:
        return
    top = result.categories[0]
    update["category"] = top.code
    if result.matters and result.matters[0].category == top.code:
        update["matter_code"] = result.matters[0].code


def enrich_sync(draft: ComplaintDraft) -> ComplaintDraft:
    """The CPU part of :func:`enrich` (map lookup, gazetteer, classifier); pure, no I/O."""
    update: dict[str, Any] = {}
    _locate(draft, update)
    _classify(draft, update)
    return draft.model_copy(update=update)


async def enrich(draft: ComplaintDraft) -> ComplaintDraft:
    """Place and classify a draft (in a worker thread: ~3 ms of CPU, off the event loop)."""
    return await asyncio.to_thread(enrich_sync, draft)


def warm_up() -> None:
    """Load the map, the gazetteer, the catalog and the classifier once (slow the first time)."""
    default_places()
    default_catalog()
    classify("warm up")
