"""Hotline extras as plain functions (no HTTP): caller history, duplicate candidates, knowledge answers."""

from __future__ import annotations

import asyncio
import math
import re
import unicodedata
from datetime import UTC, datetime, timedelta
from difflib import SequenceMatcher

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.channels.hotline.dispatch_client import case_states
from services.intake.channels.hotline.schemas import (
    AddressAnswer,
    AddressArea,
    AddressCandidateOut,
    AddressGrid,
    CallerHistory,
    CaseStatus,
    DuplicateAnswer,
    DuplicateCandidate,
    DuplicateQuery,
    HistoryItem,
    KnowledgeAnswer,
    KnowledgeAnswers,
    KnowledgeQuery,
)
from services.intake.classify import classify
from services.intake.complaint import service as complaints
from services.intake.complaint.flows import enrich_sync
from services.intake.complaint.models import Complaint
from services.intake.complaint.schemas import ComplaintDraft
from services.intake.places import GridRef, default_places
from shared.catalog import default_catalog
from shared.duplicates import Report, compare
from shared.events.complaints import GeoPoint
from shared.settings import Settings

EARTH_RADIUS_M = 6_371_008.8
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


def normalise_for_similarity(text: str) -> str:
    """Lower-case, full-width → half-width (NFKC), punctuation and spaces dropped."""
    return _NOISE.sub("", unicodedata.normalize("NFKC", text).lower())


async def caller_history(session: AsyncSession, settings: Settings, phone: str, limit: int = 20) -> CallerHistory:
    """Earlier complaints of this number, newest first, each with its case status from dispatch."""
    rows = await complaints.list_by_phone(session, phone, limit=limit)
    await session.commit()  # ends the read: no pooled connection is held while dispatch is asked
    states = await case_states(settings, [c.id for c in rows])
    items = [
        HistoryItem(
            id=c.id,
            tracking_code=c.tracking_code,
            channel=c.channel,
            kind=c.kind,
            text=c.text if len(c.text) <= 200 else c.text[:199] + "…",
            address=c.address,
            category=c.category,
            matter_code=c.matter_code,
            grid_code=c.grid_code,
            received_at=c.received_at,
            case=CaseStatus(**states[c.id]),
        )
        for c in rows
    ]
    return CallerHistory(phone=phone, count=len(items), items=items)


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance (haversine), metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, h)))


def text_similarity(a: str, b: str) -> float:
    """0..1: the mean of character-bigram Jaccard and difflib's ratio over normalised texts."""
    na, nb = normalise_for_similarity(a), normalise_for_similarity(b)
    if not na or not nb:
        return 0.0
    ga = {na[i : i + 2] for i in range(max(1, len(na) - 1))}
    gb = {nb[i : i + 2] for i in range(max(1, len(nb) - 1))}
    jaccard = len(ga & gb) / len(ga | gb)
    return round((jaccard + SequenceMatcher(None, na, nb).ratio()) / 2, 4)


def _draft_for(query: DuplicateQuery) -> ComplaintDraft:
    location = (
        GeoPoint(lon=query.lon, lat=query.lat, source="operator")
        if query.lon is not None and query.lat is not None
        else None
    )
    return ComplaintDraft(
        channel="hotline",
        channel_key="duplicate-probe",
        text=query.text,
        address=query.address,
        location=location,
        matter_code=query.matter_code,
        category=query.category,
    )


async def duplicate_candidates(
    session: AsyncSession, query: DuplicateQuery, *, now: datetime | None = None
) -> DuplicateAnswer:
    """Earlier complaints of the same category near the same place (same grid, or within ``radius_m``)
    received in the last ``days`` days that 并单 (:func:`shared.duplicates.compare`) would merge or suggest,
    merge first, with its score and reasons."""
    draft = await asyncio.to_thread(enrich_sync, _draft_for(query))
    category = query.category or (query.matter_code[:2] if query.matter_code else None) or draft.category
    if category is None and draft.suggestions:
        category = draft.suggestions[0]["category"]
    grid = draft.place.grid_code if draft.place else None
    point = (draft.location.lon, draft.location.lat) if draft.location else None
    answer = DuplicateAnswer(
        category=category, grid_code=grid, point=point, address_status=draft.address_status, candidates=[]
    )
    if category is None or (grid is None and point is None):
        return answer
    since = (now or datetime.now(UTC)) - timedelta(days=query.days)
    near = []
    if grid is not None:
        near.append(Complaint.grid_code == grid)
    if point is not None:
        dlat = query.radius_m / 111_320 * 1.1
        dlon = dlat / max(0.1, math.cos(math.radians(point[1])))
        near.append(
            and_(
                Complaint.lat.between(point[1] - dlat, point[1] + dlat),
                Complaint.lon.between(point[0] - dlon, point[0] + dlon),
            )
        )
    same_category = or_(
        Complaint.category == category,
        and_(Complaint.category.is_(None), Complaint.suggestions[0]["category"].astext == category),
    )
    stmt = (
        select(Complaint)
        .where(Complaint.received_at >= since, same_category, or_(*near))
        .order_by(Complaint.received_at.desc())
        .limit(200)
    )
    rows = list((await session.execute(stmt)).scalars())
    nearby: list[tuple[Complaint, float | None, bool]] = []
    for c in rows:
        dist = (
            distance_m(point[0], point[1], c.lon, c.lat)
            if point is not None and c.lon is not None and c.lat is not None
            else None
        )
        same_grid = grid is not None and c.grid_code == grid
        if not same_grid and (dist is None or dist > query.radius_m):
            continue
        nearby.append((c, dist, same_grid))
    # the same 并单 decision as dispatch's automatic merge and POST /api/v1/dispatch/duplicates/compare
    draft_report = Report(
        text=query.text,
        address=query.address,
        lon=point[0] if point else None,
        lat=point[1] if point else None,
        time=now or datetime.now(UTC),
        matter_code=query.matter_code,
        category=category,
        grid_code=grid,
    )
    judged = await asyncio.to_thread(lambda: [compare(draft_report, _report_of(c)) for c, _, _ in nearby])
    found: list[DuplicateCandidate] = []
    for (c, dist, same_grid), result in zip(nearby, judged, strict=True):
        if result.decision == "separate":
            continue
        found.append(
            DuplicateCandidate(
                id=c.id,
                tracking_code=c.tracking_code,
                text=c.text if len(c.text) <= 200 else c.text[:199] + "…",
                address=c.address,
                category=c.category or category,
                matter_code=c.matter_code,
                grid_code=c.grid_code,
                received_at=c.received_at,
                distance_m=round(dist, 1) if dist is not None else None,
                same_grid=same_grid,
                text_similarity=result.text_score,
                score=result.score,
                decision=result.decision,
                reasons=list(result.reasons),
            )
        )
    found.sort(key=lambda d: (d.decision != "merge", -d.score, -d.received_at.timestamp()))
    return answer.model_copy(update={"candidates": found[: query.limit]})


def _report_of(c: Complaint) -> Report:
    """An earlier complaint as 并单 compares it (the classifier's first suggestion when nobody set a matter)."""
    first = c.suggestions[0] if c.suggestions else {}
    return Report(
        text=c.text,
        address=c.address,
        lon=c.lon,
        lat=c.lat,
        time=c.received_at,
        matter_code=c.matter_code or first.get("matter_code"),
        category=c.category or first.get("category"),
        grid_code=c.grid_code,
    )


def knowledge_answers(query: KnowledgeQuery, limit: int = 3) -> KnowledgeAnswers:
    """Knowledge-base answers (matter.knowledge_answer) an operator can read out for a 咨询."""
    catalog = default_catalog()
    result = classify(query.text, "hotline")
    answers: list[KnowledgeAnswer] = []
    seen: set[str] = set()

    def add(code: str, confidence: float) -> None:
        matter = catalog.get_matter(code)
        if matter is None or code in seen or not (matter.knowledge_answer or "").strip():
            return
        seen.add(code)
        answers.append(
            KnowledgeAnswer(
                matter_code=code,
                matter_name=matter.name,
                category=matter.category,
                answer=(matter.knowledge_answer or "").strip(),
                confidence=round(confidence, 4),
            )
        )

    if query.matter_code:
        add(query.matter_code, 1.0)
    for m in result.matters:
        add(m.code, m.confidence)
    for matter, score in catalog.match(query.text, limit=10):
        if matter.knowledge_answer:
            add(matter.code, float(score) / (float(score) + 6))
    return KnowledgeAnswers(kind=query.kind or result.kind, answers=answers[:limit])


def _grid(grid: GridRef | None) -> AddressGrid | None:
    if grid is None:
        return None
    return AddressGrid(
        grid_code=grid.grid_code,
        grid_name=grid.grid_name,
        community_name=grid.community_name,
        street_code=grid.street_code,
        street_name=grid.street_name,
    )


def resolve_address(text: str) -> AddressAnswer:
    match = default_places().resolve(text)
    return AddressAnswer(
        query=text,
        status=match.status,
        confidence=match.confidence,
        matched=match.matched,
        precision=match.precision,
        point=match.point,
        grid=_grid(match.grid),
        area=AddressArea(**match.area.model_dump()) if match.area else None,
        candidates=[
            AddressCandidateOut(matched=c.matched, confidence=c.confidence, grid=_grid(c.grid))
            for c in match.candidates
        ],
    )
