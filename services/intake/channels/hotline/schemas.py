"""Shapes of the hotline extras (caller history, duplicate candidates, knowledge-base answers)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.intake.complaint.schemas import Phone
from shared.events.complaints import Kind

DraftText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
PHONE_PATTERN = r"^\+?[0-9][0-9\-]{2,19}$"
__all__ = ["PHONE_PATTERN", "Phone"]


class CaseStatus(BaseModel):
    state: str
    state_name: str
    case_id: str | None = None
    deadline_at: datetime | None = None


class HistoryItem(BaseModel):
    id: str
    tracking_code: str
    channel: str
    kind: str
    text: str
    address: str | None
    category: str | None
    matter_code: str | None
    grid_code: str | None
    received_at: datetime
    case: CaseStatus


class CallerHistory(BaseModel):
    phone: str
    count: int
    items: list[HistoryItem]


class DuplicateQuery(BaseModel):
    """A draft ticket as the operator has typed it so far."""

    model_config = ConfigDict(extra="forbid")

    text: DraftText
    address: str | None = Field(default=None, max_length=300)
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    category: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    matter_code: str | None = Field(default=None, pattern=r"^[A-Z]{2}[0-9]{3}$")
    days: int = Field(default=7, ge=1, le=90)
    radius_m: float = Field(default=200, gt=0, le=2000)
    limit: int = Field(default=5, ge=1, le=20)


class DuplicateCandidate(BaseModel):
    id: str
    tracking_code: str
    text: str
    address: str | None
    category: str | None
    matter_code: str | None
    grid_code: str | None
    received_at: datetime
    distance_m: float | None
    same_grid: bool
    text_similarity: float
    score: float
    #: 并单's decision (merge: would be merged automatically; suggest: worth a look) and its reasons in Chinese
    decision: str = "suggest"
    reasons: list[str] = []


class DuplicateAnswer(BaseModel):
    category: str | None
    grid_code: str | None
    point: tuple[float, float] | None
    address_status: str
    candidates: list[DuplicateCandidate]


class KnowledgeQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: DraftText
    matter_code: str | None = Field(default=None, pattern=r"^[A-Z]{2}[0-9]{3}$")
    kind: Kind | None = None


class KnowledgeAnswer(BaseModel):
    matter_code: str
    matter_name: str
    category: str
    answer: str
    confidence: float


class KnowledgeAnswers(BaseModel):
    kind: str
    answers: list[KnowledgeAnswer]


class AddressGrid(BaseModel):
    grid_code: str
    grid_name: str
    community_name: str
    street_code: str
    street_name: str


class AddressArea(BaseModel):
    """The street (and community) of an address that names no more than that (双桥子 → 双桥子街道)."""

    street_code: str
    street_name: str
    community_code: str | None = None
    community_name: str | None = None


class AddressCandidateOut(BaseModel):
    matched: str
    confidence: float
    grid: AddressGrid | None


class AddressAnswer(BaseModel):
    """How the gazetteer read an address; ``resolved`` only when it is sure (never a silent guess)."""

    query: str
    status: str
    confidence: float
    matched: str
    precision: str | None
    point: tuple[float, float] | None
    grid: AddressGrid | None
    area: AddressArea | None = Field(
        default=None, description="street/community of a resolved address; alone (no grid) when that is all it names"
    )
    candidates: list[AddressCandidateOut]
