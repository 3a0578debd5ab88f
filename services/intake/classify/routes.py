"""``POST /api/v1/classify``: kind, top-3 matters, emergency transfer for a complaint text."""

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
    """分类: 诉求类型 (kind), top 3 matters (事项) with category and confidence, emergency (转 110/119/120/122)."""
    return await asyncio.to_thread(classify, body.text, body.channel)
