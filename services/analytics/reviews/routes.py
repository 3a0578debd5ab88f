"""``/api/v1/reviews``: 逆向评价 — a street rates the departments that served it, per month (street office key,
or a dispatcher/admin naming the street)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.analytics.access import Caller, ReviewerDep
from services.analytics.measures.periods import parse_month, today
from services.analytics.reviews import service
from services.analytics.reviews.schemas import ReviewForm, ReviewList, ReviewsIn
from services.analytics.stats import names
from shared.app import SessionDep
from shared.catalog import default_catalog
from shared.errors import Forbidden, InvalidInput
from shared.validation import AuthFirstRoute

router = APIRouter(prefix="/api/v1/reviews", tags=["reviews"], route_class=AuthFirstRoute)

MonthQ = Annotated[str | None, Query(description="The month, e.g. 2026-11 (default: this month)", max_length=7)]
StreetQ = Annotated[
    str | None, Query(description="dispatcher/admin only: the street (a street key: its own)", max_length=10)
]


def _street_for(who: Caller, street: str | None) -> str:
    """A street key acts for its own street; staff name one."""
    if who.street is not None:
        if street and street != who.street:
            raise Forbidden("街道只能查看和填报本街道的评价", street=who.street)
        return who.street
    if not street:
        raise InvalidInput("调度员代填时请指定街道（street）", field="street")
    dept = default_catalog().get_department(street)
    if dept is None or not dept.is_street:
        raise InvalidInput(f"「{street}」不是本区的街道", field="street")
    return street


@router.get("/me", summary="Who the key is, for the rating page (a street, or staff)")
async def me(who: ReviewerDep) -> dict[str, object]:
    return {
        "role": who.role,
        "department": who.department,
        "department_name": names.department_name(who.department),
        "street": who.street,
        "street_name": names.street_name(who.street) if who.street else None,
        "is_staff": who.is_staff,
    }


@router.get(
    "/form", response_model=ReviewForm, summary="The departments that served the street in a month, rated or not"
)
async def review_form(
    session: SessionDep, who: ReviewerDep, month: MonthQ = None, street: StreetQ = None
) -> dict[str, object]:
    chosen = parse_month(month) if month else today().replace(day=1)
    return await service.form(session, _street_for(who, street), chosen)


@router.post("", response_model=ReviewForm, summary="Rate departments for a month (a new rating replaces the old)")
async def submit_reviews(session: SessionDep, who: ReviewerDep, body: ReviewsIn) -> dict[str, object]:
    """Scores 1 (很不满意) to 5 (很满意), with an optional comment; only departments that served the street
    that month (a case located in the street dispatched to them) can be rated (422 naming the rating otherwise)."""
    street = _street_for(who, body.street)
    result = await service.submit(session, street, parse_month(body.month), body.ratings, reviewer=who.actor)
    await session.commit()
    return result


@router.get("", response_model=ReviewList, summary="Ratings given for a month (a street: its own; staff: all)")
async def list_reviews(
    session: SessionDep, who: ReviewerDep, month: MonthQ = None, street: StreetQ = None
) -> dict[str, object]:
    chosen = parse_month(month) if month else today().replace(day=1)
    if who.street is not None:
        return await service.list_reviews(session, chosen, _street_for(who, street))
    return await service.list_reviews(session, chosen, street or None)
