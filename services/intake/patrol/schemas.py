"""Grid worker API shapes for patrol tasks (machine fields in English, what a person reads in Chinese)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.events.patrol import PATROL_RESULT_NAMES, PatrolResult

_BY_NAME = {name: code for code, name in PATROL_RESULT_NAMES.items()}


class PatrolResultIn(BaseModel):
    """The result of a patrol (JSON, or form fields beside ``photos`` in multipart)."""

    model_config = ConfigDict(extra="forbid")

    result: PatrolResult = Field(
        description="patrolled (已巡查), handled (已处置) or nothing_found (未发现问题); the Chinese names are "
        "accepted too"
    )
    note: str | None = Field(default=None, max_length=2000, description="what the worker saw or did")
    client_request_id: str | None = Field(default=None, max_length=100)

    @field_validator("result", mode="before")
    @classmethod
    def _chinese_name(cls, value: object) -> object:
        return _BY_NAME.get(value.strip(), value.strip()) if isinstance(value, str) else value

    @field_validator("note")
    @classmethod
    def _blank_note(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None


class PatrolPhotoOut(BaseModel):
    url: str
    content_type: str | None = None
    size: int | None = None


class PatrolTaskOut(BaseModel):
    id: str
    status: Literal["open", "done"]
    status_name: str
    grid_code: str
    grid_name: str | None
    street_name: str | None
    category: str
    category_name: str
    reason: str
    window_start: date
    window_end: date
    recent_count: int
    baseline_daily: float
    opened_at: datetime
    due_at: datetime | None
    result: PatrolResult | None = None
    result_name: str | None = None
    note: str | None = None
    photos: list[PatrolPhotoOut] = []
    done_by: str | None = None
    done_at: datetime | None = None


class PatrolTaskList(BaseModel):
    worker_id: str
    items: list[PatrolTaskOut]
