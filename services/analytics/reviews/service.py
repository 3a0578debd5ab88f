"""逆向评价: streets rate the departments that served them, once per department and month (a new rating replaces
the street's earlier one for that month). A department "served" a street in a month when at least one case located
in the street was dispatched to it (派单/改派/裁定) that month. The ranking uses the mean score (1–5) of the months
a period overlaps, as ``(mean - 1) / 4``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics.measures.config import MeasuresConfig, default_config
from services.analytics.measures.models import MeasureCase, MeasureFact
from services.analytics.measures.periods import month_period, previous_month, today
from services.analytics.reviews.models import DepartmentReview
from services.analytics.reviews.schemas import RatingIn
from services.analytics.stats import names
from shared.catalog import default_catalog
from shared.errors import InvalidInput


def _rated_kinds(config: MeasuresConfig) -> set[str]:
    return set(config.ranking.kinds)


def rateable(code: str, config: MeasuresConfig | None = None) -> bool:
    dept = default_catalog().get_department(code)
    return dept is not None and dept.kind in _rated_kinds(config or default_config())


def editable(month: date, config: MeasuresConfig | None = None, *, on: date | None = None) -> bool:
    """A month can be rated from its first day until ``months_back`` months later."""
    config = config or default_config()
    current = (on or today()).replace(day=1)
    oldest = current
    for _ in range(config.reviews.months_back):
        oldest = previous_month(oldest)
    return oldest <= month <= current


async def served_departments(session: AsyncSession, street: str, month: date) -> dict[str, int]:
    """Department → dispatches in ``month`` of cases located in ``street`` (rateable departments only)."""
    p = month_period(month)
    f = MeasureFact
    stmt = (
        select(f.department, func.count())
        .join(MeasureCase, MeasureCase.case_id == f.case_id)
        .where(
            f.kind == "assigned",
            f.at >= p.start,
            f.at < p.end,
            MeasureCase.street_code == street,
            f.department.is_not(None),
        )
        .group_by(f.department)
    )
    return {str(d): int(n) for d, n in (await session.execute(stmt)).all() if rateable(str(d))}


def _out(row: DepartmentReview | None, code: str, served: int, scale: dict[int, str]) -> dict[str, Any]:
    return {
        "department": code,
        "department_name": names.department_name(code),
        "served": served,
        "score": row.score if row else None,
        "score_name": scale.get(row.score) if row else None,
        "comment": row.comment if row else None,
        "reviewer": row.reviewer if row else None,
        "updated_at": row.updated_at.isoformat() if row and row.updated_at else None,
    }


async def _reviews(session: AsyncSession, month: date, street: str | None = None) -> list[DepartmentReview]:
    stmt = select(DepartmentReview).where(DepartmentReview.month == month)
    if street:
        stmt = stmt.where(DepartmentReview.street_code == street)
    return list(
        (await session.execute(stmt.order_by(DepartmentReview.street_code, DepartmentReview.department))).scalars()
    )


async def form(session: AsyncSession, street: str, month: date) -> dict[str, Any]:
    """What a street sees on its rating page: the departments that served it in the month, with its ratings."""
    config = default_config()
    served = await served_departments(session, street, month)
    given = {r.department: r for r in await _reviews(session, month, street)}
    codes = sorted(set(served) | set(given), key=lambda c: (-served.get(c, 0), c))
    return {
        "month": month.strftime("%Y-%m"),
        "street": street,
        "street_name": names.street_name(street),
        "editable": editable(month, config),
        "scale": dict(config.reviews.scale),
        "departments": [_out(given.get(c), c, served.get(c, 0), config.reviews.scale) for c in codes],
    }


async def submit(
    session: AsyncSession,
    street: str,
    month: date,
    ratings: Sequence[RatingIn],
    *,
    reviewer: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Store the street's ratings for the month (each replaces an earlier one); 422 naming the rating when the
    month cannot be rated or the department did not serve the street that month. Flushes."""
    now = now or datetime.now(UTC)
    if not editable(month):
        raise InvalidInput("该月份不在可评价范围内（只能评价本月及之前12个月）", field="month")
    served = await served_departments(session, street, month)
    seen: set[str] = set()
    for i, rating in enumerate(ratings):
        field = f"ratings.{i}.department"
        if rating.department in seen:
            raise InvalidInput(f"{names.department_name(rating.department)}重复评价", field=field)
        seen.add(rating.department)
        if not rateable(rating.department):
            raise InvalidInput(f"「{rating.department}」不是可评价的职能部门", field=field)
        if not served.get(rating.department):
            raise InvalidInput(
                f"{names.department_name(rating.department)}在{month.year}年{month.month}月未承办本街道的工单，不能评价",
                field=field,
            )
    for rating in ratings:
        values = {
            "month": month,
            "street_code": street,
            "department": rating.department,
            "score": rating.score,
            "comment": (rating.comment or "").strip()[:500] or None,
            "reviewer": reviewer[:120],
            "created_at": now,
            "updated_at": now,
        }
        stmt = insert(DepartmentReview).values(values)
        stmt = stmt.on_conflict_do_update(
            constraint="uq_department_reviews_month",
            set_={k: stmt.excluded[k] for k in ("score", "comment", "reviewer", "updated_at")},
        )
        await session.execute(stmt)
    await session.flush()
    return await form(session, street, month)


async def list_reviews(session: AsyncSession, month: date, street: str | None = None) -> dict[str, Any]:
    scale = default_config().reviews.scale
    items = [
        {"street": r.street_code, "street_name": names.street_name(r.street_code), **_out(r, r.department, 0, scale)}
        for r in await _reviews(session, month, street)
    ]
    for item in items:
        item.pop("served", None)
    return {"month": month.strftime("%Y-%m"), "items": items}


async def department_review_means(session: AsyncSession, months: Sequence[date]) -> dict[str, tuple[float, int]]:
    """Department → (mean score, number of ratings) over the given months."""
    if not months:
        return {}
    stmt = (
        select(DepartmentReview.department, func.avg(DepartmentReview.score), func.count())
        .where(DepartmentReview.month.in_(list(months)))
        .group_by(DepartmentReview.department)
    )
    return {str(d): (float(mean), int(n)) for d, mean, n in (await session.execute(stmt)).all()}


async def review_summary(session: AsyncSession, month: date) -> list[dict[str, Any]]:
    """Per department rated in ``month``: mean, count, how many streets gave each score (no comments)."""
    rows = (
        await session.execute(
            select(DepartmentReview.department, DepartmentReview.score, func.count())
            .where(DepartmentReview.month == month)
            .group_by(DepartmentReview.department, DepartmentReview.score)
        )
    ).all()
    scores: dict[str, dict[int, int]] = defaultdict(lambda: dict.fromkeys(range(1, 6), 0))
    for dept, score, n in rows:
        scores[str(dept)][int(score)] += int(n)
    out: list[dict[str, Any]] = []
    for dept, by_score in scores.items():
        count = sum(by_score.values())
        mean = sum(s * n for s, n in by_score.items()) / count
        out.append(
            {
                "code": dept,
                "name": names.department_name(dept),
                "mean": round(mean, 2),
                "count": count,
                "scores": {str(s): n for s, n in by_score.items()},
            }
        )
    out.sort(key=lambda i: (-i["mean"], -i["count"], i["code"]))
    return out


__all__ = [
    "department_review_means",
    "editable",
    "form",
    "list_reviews",
    "review_summary",
    "served_departments",
    "submit",
]
