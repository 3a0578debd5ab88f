"""Pydantic shapes of the classifier's input and output (``POST /api/v1/classify``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Kind = Literal["咨询", "求助", "投诉", "举报", "建议", "表扬"]
"""Kinds of 诉求: question, request for help, complaint, report of wrongdoing, suggestion, praise."""

KINDS: tuple[str, ...] = ("咨询", "求助", "投诉", "举报", "建议", "表扬")

EmergencyService = Literal["110", "119", "120", "122"]

MAX_TEXT_CHARS = 20_000
"""Longest text accepted by the HTTP request shape; :func:`classify` itself never refuses a text."""


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class ClassifyRequest(BaseModel):
    """Body of ``POST /api/v1/classify``."""

    text: str = Field(max_length=MAX_TEXT_CHARS)
    channel: str | None = Field(default=None, description="hotline / wechat / app / grid / open311")


class CategoryScore(_Out):
    """One of the 15 categories (大类) with the model's probability."""

    code: str
    name: str
    confidence: float = Field(ge=0, le=1)


class MatterScore(_Out):
    """The best matter (事项) of one of the top-3 categories: category probability x the matter's share of it
    (keyword hits and similarity to the catalog's name, keywords and examples)."""

    code: str
    name: str
    category: str
    confidence: float = Field(ge=0, le=1)


class Emergency(_Out):
    """An emergency: not dispatched, transferred at once to 110/119/120/122."""

    service: EmergencyService
    reason: str
    trigger: str = Field(description="the words that fired the rule, or '' when the model decided")
    source: Literal["rule", "model"] = "rule"


class Classification(_Out):
    """What the classifier thinks a complaint text is."""

    kind: Kind
    kind_confidence: float = Field(ge=0, le=1)
    categories: list[CategoryScore] = Field(description="top 3 categories, best first (calibrated probabilities)")
    matters: list[MatterScore] = Field(
        description="the best catalog matter of each of the top 3 categories, in category order (empty without catalog)"
    )
    emergency: Emergency | None = None
    auto_route: bool = Field(
        default=False,
        description="sure enough to route without a person: not an emergency and the top category's calibrated "
        "confidence reaches that category's threshold (tuned for 95 % precision); otherwise triage with the top 3",
    )
    auto_route_threshold: float | None = Field(
        default=None, ge=0, le=1, description="the top category's threshold (None for an emergency)"
    )
    low_confidence: bool = Field(description="an operator or dispatcher should check kind and category")
    channel: str | None = None
    model_version: str = ""

    @property
    def category(self) -> str:
        """The best category code."""
        return self.categories[0].code if self.categories else ""
