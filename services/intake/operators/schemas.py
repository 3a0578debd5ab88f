"""Response shapes of the operator API (accounts are created with the CLI, never over HTTP)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class CallerOut(BaseModel):
    """Who the current credential belongs to."""

    role: str
    name: str
    display_name: str
    via: str
    operator_id: int | None
    department: str | None


class OperatorOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    username: str
    display_name: str
    role: str
    disabled: bool
    has_password: bool
    created_at: datetime
