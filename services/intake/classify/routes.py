"""``POST /api/v1/classify``: kind, top-3 categories (calibrated) with the best matter of each, emergency transfer,
and whether the classifier is sure enough to route the complaint without a person (``auto_route``)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.intake.classify.schemas import MAX_TEXT_CHARS, Classification
from services.intake.classify.service import classify
from services.intake.operators.auth import AUTH_RESPONSES, OperatorDep
from shared.validation import AuthFirstRoute

router = APIRouter(prefix="/api/v1", tags=["classify"], route_class=AuthFirstRoute)  # 401/403 before 422


class ClassifyIn(BaseModel):
    """Body of ``POST /api/v1/classify``: a non-blank text and, optionally, the channel it came from."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"text": "建设路12号门口井盖坏了，晚上很危险", "channel": "hotline"}]},
    )

    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT_CHARS)]
    channel: Literal["hotline", "wechat", "app", "grid", "open311"] | None = Field(default=None)


@router.post("/classify", response_model=Classification, responses=AUTH_RESPONSES)
async def classify_text(caller: OperatorDep, body: ClassifyIn) -> Classification:
    """分类: 诉求类型 (kind), the top 3 categories (大类) with calibrated confidence and the best matter (事项) of each,
    emergency (转 110/119/120/122), and ``auto_route``: the top category's confidence reaches its threshold (tuned
    for 95 % precision) — otherwise the complaint goes to the dispatchers' triage with these top 3."""
    return await asyncio.to_thread(classify, body.text, body.channel)
