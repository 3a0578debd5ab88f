"""Request and response shapes of ``/api/v1/reviews`` (逆向评价)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.validation import CleanStr

MonthText = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}$")]


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    department: Annotated[str, StringConstraints(min_length=2, max_length=10, pattern=r"^[A-Z0-9]+$")]
    score: int = Field(ge=1, le=5, description="1 很不满意 … 5 很满意")
    comment: Annotated[CleanStr | None, Field(max_length=500)] = None


class ReviewsIn(BaseModel):
    """A street's ratings of the departments that served it in one month (re-sending a rating replaces it)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "month": "2026-11",
                    "ratings": [{"department": "CGJ", "score": 4, "comment": "响应及时，个别工单回复偏简单"}],
                }
            ]
        },
    )

    month: MonthText = Field(description="The month rated, e.g. 2026-11")
    street: Annotated[str | None, StringConstraints(max_length=10)] = Field(
        default=None, description="Only for a dispatcher/admin key: the street rated for (a street key rates its own)."
    )
    ratings: list[RatingIn] = Field(min_length=1, max_length=80)


class RatingOut(BaseModel):
    department: str
    department_name: str
    served: int = Field(description="Dispatches (派单) in the month of the street's cases to the department")
    score: int | None
    score_name: str | None
    comment: str | None
    reviewer: str | None
    updated_at: str | None


class ReviewForm(BaseModel):
    month: str
    street: str
    street_name: str
    editable: bool
    scale: dict[int, str]
    departments: list[RatingOut]


class ReviewList(BaseModel):
    month: str
    items: list[dict[str, object]]
