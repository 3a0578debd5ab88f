"""The measures departments are judged by (考核指标), computed from the case-event projections.

Service API (what routes, pages and the wall screen call; every function takes a session and only reads):

- ``await measures(session, *, period="month", start=None, end=None, group_by="total", now=None)`` →
  ``{"period", "group_by", "generated_at", "total": Figures, "items": [Figures + {"code", "name"}]}``;
  ``group_by`` is one of ``total``, ``department``, ``street``, ``grid``, ``category``, ``channel``.
- ``await ranking(session, *, period, start, end, kind="department", now=None)`` → the composite score per
  department (``kind="street"``: streets as handlers), ranked; weights from ``config.yaml``.
- ``await red_black_list(session, *, period, start, end, kind="department", now=None)`` → ``{"red", "black"}``.
- ``await trend(session, *, period, start, end)`` → received / replied / closed per day.
- ``await monthly_report(session, month)`` → everything the monthly report page and its CSV/XLSX show.
- ``await case_rows(session, *, period, start, end, street, department, category, status, overdue, now)`` →
  case rows for the staff export (no personal data: the projections hold none).

``period`` is ``day``, ``week`` (ISO, Monday–Sunday), ``month`` or ``custom`` (``start``..``end`` inclusive, at most
366 days); ``start`` picks the day/week/month (default today); all days are Asia/Shanghai.

Figures (every count has a definition; a rate is ``None`` when its denominator is 0):

========================  ============================================================================================
``received``              受理量: cases whose ``received_at`` falls in the period.
``assigned``              派单量: assignments (派单, 改派 or 职责裁定 to a lead department) made in the period.
``sign_rate_24h``         24 小时签收率 = ``signed_24h / sign_due_24h`` over the period's assignments: signed within
                          24 h (``sign_window_hours``) of the dispatch, out of assignments that were signed, or stayed
                          unsigned, unreturned and with that department for the whole window (window over by ``now``).
``response_rate``         响应率 = ``responded / response_due``: the same, with the sign deadline dispatch set for the
                          assignment (the matter's sign hours, counted in working time) as the window.
``return_rate``           回退率 = ``returned / assigned``: the period's assignments the department returned (退单).
``on_time_rate``          按时办结率 = ``replied_on_time / replied``: replies (办结) in the period made by the case's
                          deadline at that moment (extensions and suspensions included; a reopen sets a new one).
``reopen_rate``           重办率 = ``closed_reopened / closed``: closes in the period of cases reopened (重办, or
                          核查未通过) before that close.
``one_time_rate``         一次性办结率 = ``closed_one_time / closed``: closes in the period of cases never returned
                          nor reopened before that close.
``solve_rate``            解决率 = ``solved / solve_base``: survey answers in the period saying the problem was solved
                          (the citizen's own 已解决 answer; without one, a result in ``solved_results``), out of the
                          answers with a result (未评价 left out).
``satisfaction_rate``     满意率 = ``satisfaction_points / rated``: each answer in the period counts its weight
                          (满意 1, 基本满意 0.8, 不满意 0 by default); results weighted ``null`` (未评价) are left out.
``overdue_open``          当前超期: cases now in 待派单/待签收/办理中/退单待审 past their deadline (not period-bound).
========================  ============================================================================================

Which department: the lead at the counted event (the department dispatched to, the one that replied, led the case
when it closed, or when the citizen answered). Which street, grid, category and channel: the case's current ones
(a location or a category corrected later moves the case). Closes of a merged case with its master (并单) are not
counted. Counts are stable: an event counts in the period it happened in, whatever happens to the case later.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, and_, cast, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics.measures.config import INVERTED, MeasuresConfig, default_config
from services.analytics.measures.models import MeasureCase, MeasureFact
from services.analytics.measures.periods import SHANGHAI, Period, month_period, resolve
from services.analytics.stats import names
from shared.catalog import CATEGORY_NAMES, default_catalog

GROUPS = ("total", "department", "street", "grid", "category", "channel")
CLOCK_STATES = ("triage", "dispatched", "signed", "returned")
OPEN_STATES = ("accepted", "triage", "dispatched", "signed", "returned", "suspended")
COUNTS = (
    "received",
    "assigned",
    "sign_due_24h",
    "signed_24h",
    "response_due",
    "responded",
    "returned",
    "replied",
    "replied_on_time",
    "closed",
    "closed_one_time",
    "closed_reopened",
    "surveyed",
    "rated",
    "solve_base",
    "solved",
    "overdue_open",
)
RATES = (
    "sign_rate_24h",
    "response_rate",
    "return_rate",
    "on_time_rate",
    "reopen_rate",
    "one_time_rate",
    "solve_rate",
    "satisfaction_rate",
)
FIGURE_NAMES: dict[str, str] = {
    "received": "受理量",
    "assigned": "派单量",
    "sign_rate_24h": "24小时签收率",
    "response_rate": "响应率",
    "return_rate": "回退率",
    "on_time_rate": "按时办结率",
    "reopen_rate": "重办率",
    "one_time_rate": "一次性办结率",
    "solve_rate": "解决率",
    "satisfaction_rate": "满意率",
    "overdue_open": "当前超期",
    "review": "逆向评价",
    "score": "综合得分",
}
SURVEY_RESULTS = ("满意", "基本满意", "不满意", "未评价")
NO_DEPARTMENT = "-"


def _rate(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def empty_figures() -> dict[str, Any]:
    out: dict[str, Any] = dict.fromkeys(COUNTS, 0)
    out["satisfaction_points"] = 0.0
    out["survey"] = dict.fromkeys(SURVEY_RESULTS, 0)
    return out


def finish(figures: dict[str, Any]) -> dict[str, Any]:
    """Add the rates to a dict of counts (see the module docstring)."""
    f = figures
    f["satisfaction_points"] = round(float(f["satisfaction_points"]), 4)
    f["sign_rate_24h"] = _rate(f["signed_24h"], f["sign_due_24h"])
    f["response_rate"] = _rate(f["responded"], f["response_due"])
    f["return_rate"] = _rate(f["returned"], f["assigned"])
    f["on_time_rate"] = _rate(f["replied_on_time"], f["replied"])
    f["reopen_rate"] = _rate(f["closed_reopened"], f["closed"])
    f["one_time_rate"] = _rate(f["closed_one_time"], f["closed"])
    f["solve_rate"] = _rate(f["solved"], f["solve_base"])
    f["satisfaction_rate"] = _rate(f["satisfaction_points"], f["rated"])
    return f


def survey_figures(result: str | None, solved: bool | None, n: int, config: MeasuresConfig) -> dict[str, float]:
    """What ``n`` survey answers with this result (and own solved answer) add to the figures."""
    out: dict[str, float] = {"surveyed": n}
    weight = config.satisfaction_weight(result or "")
    if weight is not None:
        out["rated"] = n
        out["satisfaction_points"] = weight * n
    if solved is not None or (result is not None and result != "未评价"):
        out["solve_base"] = n
        is_solved = solved if solved is not None else result in config.solved_results
        if is_solved:
            out["solved"] = n
    return out


# --------------------------------------------------------------------------------------------- grouping
def _case_key(group_by: str) -> Any:
    return {
        "total": literal("*"),
        "department": func.coalesce(MeasureCase.lead, NO_DEPARTMENT),
        "street": MeasureCase.street_code,
        "grid": MeasureCase.grid_code,
        "category": MeasureCase.category,
        "channel": MeasureCase.channel,
    }[group_by]


def _fact_key(group_by: str) -> Any:
    if group_by == "department":
        return func.coalesce(MeasureFact.department, NO_DEPARTMENT)
    return _case_key(group_by)


def name_of(group_by: str, code: str) -> str:
    if group_by == "total":
        return default_catalog().district_name
    if group_by == "department":
        return "未派单" if code == NO_DEPARTMENT else names.department_name(code)
    if group_by == "street":
        return names.street_name(code)
    if group_by == "grid":
        return names.grid_name(code)
    if group_by == "category":
        return names.category_name(code)
    return names.CHANNEL_NAMES.get(code, code)


def _listed_anyway(group_by: str) -> tuple[str, ...]:
    """Codes shown even at zero (streets of the district, the channels)."""
    if group_by == "street":
        return tuple(names.street_names())
    if group_by == "channel":
        return tuple(names.CHANNEL_NAMES)
    return ()


def _check_group(group_by: str) -> None:
    from shared.errors import InvalidInput

    if group_by not in GROUPS:
        raise InvalidInput("分组 group_by 须为 total、department、street、grid、category 或 channel", field="group_by")


# --------------------------------------------------------------------------------------------- measures
async def measures(
    session: AsyncSession,
    *,
    period: str = "month",
    start: date | None = None,
    end: date | None = None,
    group_by: str = "total",
    now: datetime | None = None,
    config: MeasuresConfig | None = None,
) -> dict[str, Any]:
    """The figures of one period, for the whole district (``total``) and per ``group_by`` value (see the module
    docstring for each definition). Raises ``InvalidInput`` (422) for a bad period or grouping."""
    _check_group(group_by)
    p = resolve(period, start, end)
    return await measures_for(session, p, group_by=group_by, now=now, config=config)


async def measures_for(
    session: AsyncSession,
    p: Period,
    *,
    group_by: str = "total",
    now: datetime | None = None,
    config: MeasuresConfig | None = None,
) -> dict[str, Any]:
    """:func:`measures` for an already resolved :class:`Period`."""
    _check_group(group_by)
    config = config or default_config()
    now = now or datetime.now(UTC)
    groups: dict[str, dict[str, Any]] = defaultdict(empty_figures)
    total = empty_figures()

    def add(code: str, values: dict[str, float]) -> None:
        for target in (groups[code], total) if group_by != "total" else (total,):
            for k, v in values.items():
                target[k] += v

    window = timedelta(hours=config.sign_window_hours)
    fallback = timedelta(hours=config.response_fallback_hours)
    ck, fk = _case_key(group_by), _fact_key(group_by)

    received = select(ck, func.count()).where(MeasureCase.received_at >= p.start, MeasureCase.received_at < p.end)
    for code, n in (await session.execute(received.group_by(ck))).all():
        add(str(code), {"received": int(n)})

    overdue = select(ck, func.count()).where(
        MeasureCase.state.in_(CLOCK_STATES), MeasureCase.deadline_at.is_not(None), MeasureCase.deadline_at < now
    )
    for code, n in (await session.execute(overdue.group_by(ck))).all():
        add(str(code), {"overdue_open": int(n)})

    f = MeasureFact
    assigned, replied, closed = f.kind == "assigned", f.kind == "replied", f.kind == "closed"
    sign_due = func.coalesce(f.sign_due_at, f.at + fallback)

    def stayed_unsigned(until: Any) -> Any:
        """Unsigned, unreturned and not taken away before ``until``, which is past by ``now``."""
        return and_(
            or_(f.returned_at.is_(None), f.returned_at >= until),
            or_(f.ended_at.is_(None), f.ended_at >= until),
            until <= now,
        )

    facts = (
        select(
            fk,
            func.count().filter(assigned),
            func.count().filter(assigned, f.signed_at.is_not(None), f.signed_at <= f.at + window),
            func.count().filter(assigned, or_(f.signed_at.is_not(None), stayed_unsigned(f.at + window))),
            func.count().filter(assigned, f.signed_at.is_not(None), f.signed_at <= sign_due),
            func.count().filter(assigned, or_(f.signed_at.is_not(None), stayed_unsigned(sign_due))),
            func.count().filter(assigned, f.returned_at.is_not(None)),
            func.count().filter(replied),
            func.count().filter(replied, f.on_time.is_(True)),
            func.count().filter(closed),
            func.count().filter(closed, f.one_time.is_(True)),
            func.count().filter(closed, f.reopened_before.is_(True)),
        )
        .select_from(f)
        .join(MeasureCase, MeasureCase.case_id == f.case_id)
        .where(f.kind.in_(("assigned", "replied", "closed")), f.at >= p.start, f.at < p.end)
        .group_by(fk)
    )
    fact_names = (
        "assigned",
        "signed_24h",
        "sign_due_24h",
        "responded",
        "response_due",
        "returned",
        "replied",
        "replied_on_time",
        "closed",
        "closed_one_time",
        "closed_reopened",
    )
    for code, *values in (await session.execute(facts)).all():
        add(str(code), {k: int(v) for k, v in zip(fact_names, values, strict=True)})

    surveys = (
        select(fk, f.result, f.solved, func.count())
        .select_from(f)
        .join(MeasureCase, MeasureCase.case_id == f.case_id)
        .where(f.kind == "surveyed", f.at >= p.start, f.at < p.end)
        .group_by(fk, f.result, f.solved)
    )
    for code, result, solved, n in (await session.execute(surveys)).all():
        add(str(code), survey_figures(result, solved, int(n), config))
        for target in (groups[str(code)], total) if group_by != "total" else (total,):
            key = result if result in SURVEY_RESULTS else "未评价"
            target["survey"][key] += int(n)

    for code in _listed_anyway(group_by):
        groups[code]  # noqa: B018 - touch: listed even at zero
    items = [{"code": code, "name": name_of(group_by, code), **finish(g)} for code, g in groups.items()]
    order = {c: i for i, c in enumerate(_listed_anyway(group_by))}
    items.sort(key=lambda i: (order.get(i["code"], len(order)), -(i["received"] + i["assigned"]), i["code"]))
    return {
        "period": p.as_dict(),
        "group_by": group_by,
        "generated_at": now.isoformat(),
        "total": {"code": "*", "name": name_of("total", "*"), **finish(total)},
        "items": items if group_by != "total" else [],
        "definitions": FIGURE_NAMES,
    }


# --------------------------------------------------------------------------------------------- ranking
def _kind_of(code: str) -> str | None:
    dept = default_catalog().get_department(code)
    return dept.kind if dept else None


def composite(
    figures: dict[str, Any], review: float | None, config: MeasuresConfig
) -> tuple[float | None, dict[str, Any]]:
    """(score 0–100 or None, the component values used): ``100 × Σ w·v / Σ w`` over the figures available."""
    weights = config.ranking.weights
    parts: dict[str, Any] = {}
    num = den = 0.0
    for figure, weight in weights.items():
        value = review if figure == "review" else figures.get(figure)
        if value is None or weight <= 0:
            parts[figure] = None
            continue
        value = 1 - value if figure in INVERTED else value
        parts[figure] = round(value, 4)
        num += weight * value
        den += weight
    return (round(100 * num / den, 2) if den else None), parts


async def ranking(
    session: AsyncSession,
    *,
    period: str = "month",
    start: date | None = None,
    end: date | None = None,
    kind: str = "department",
    now: datetime | None = None,
    config: MeasuresConfig | None = None,
) -> dict[str, Any]:
    """Departments ranked by composite score (weights in config.yaml). ``kind="department"`` ranks the kinds in
    ``ranking.kinds`` (departments, utilities); ``kind="street"`` the streets as handlers (属地). A department
    with fewer dispatches than the period's ``min_volume`` is listed after the ranked ones, unranked."""
    return await ranking_for(session, resolve(period, start, end), kind=kind, now=now, config=config)


async def ranking_for(
    session: AsyncSession,
    p: Period,
    *,
    kind: str = "department",
    now: datetime | None = None,
    config: MeasuresConfig | None = None,
    figures: dict[str, Any] | None = None,
) -> dict[str, Any]:
    from services.analytics.reviews.service import department_review_means
    from shared.errors import InvalidInput

    if kind not in ("department", "street"):
        raise InvalidInput("kind 须为 department（职能部门）或 street（街道）", field="kind")
    config = config or default_config()
    figures = figures or await measures_for(session, p, group_by="department", now=now, config=config)
    kinds = set(config.ranking.kinds) if kind == "department" else {"street"}
    reviews = await department_review_means(session, p.months()) if kind == "department" else {}
    rule = config.lists[p.kind]  # type: ignore[index]
    items: list[dict[str, Any]] = []
    for item in figures["items"]:
        if _kind_of(item["code"]) not in kinds:
            continue
        mean, count = reviews.get(item["code"], (None, 0))
        review = (mean - 1) / 4 if mean is not None else None
        score, parts = composite(item, review, config)
        items.append(
            {
                **item,
                "score": score,
                "components": parts,
                "review": {"mean": round(mean, 2) if mean is not None else None, "count": count},
                "eligible": item["assigned"] >= rule.min_volume and score is not None,
            }
        )
    items.sort(key=lambda i: (not i["eligible"], -(i["score"] or 0), -i["assigned"], i["code"]))
    rank = 0
    for item in items:
        item["rank"] = (rank := rank + 1) if item["eligible"] else None
    return {
        "period": p.as_dict(),
        "kind": kind,
        "generated_at": figures["generated_at"],
        "weights": dict(config.ranking.weights),
        "min_volume": rule.min_volume,
        "items": items,
    }


def pick_lists(ranked: Sequence[dict[str, Any]], config: MeasuresConfig, period_kind: str) -> dict[str, Any]:
    """红黑榜 from a ranking's items (see config.yaml ``lists``): red = top N ∪ score ≥ min_score; black =
    bottom N ∪ score < below, never one on the red list; only eligible departments."""
    rule = config.lists[period_kind]  # type: ignore[index]
    eligible = [i for i in ranked if i["eligible"]]
    red: list[dict[str, Any]] = []
    for pos, item in enumerate(eligible):
        if (rule.red.top is not None and pos < rule.red.top) or (
            rule.red.min_score is not None and item["score"] >= rule.red.min_score
        ):
            red.append(item)
    on_red = {i["code"] for i in red}
    black: list[dict[str, Any]] = []
    count = len(eligible)
    for pos, item in enumerate(eligible):
        if item["code"] in on_red:
            continue
        if (rule.black.bottom is not None and pos >= count - rule.black.bottom) or (
            rule.black.below is not None and item["score"] < rule.black.below
        ):
            black.append(item)
    black.sort(key=lambda i: (i["score"], i["code"]))
    return {"rule": rule.model_dump(), "red": red, "black": black}


async def red_black_list(
    session: AsyncSession,
    *,
    period: str = "month",
    start: date | None = None,
    end: date | None = None,
    kind: str = "department",
    now: datetime | None = None,
    config: MeasuresConfig | None = None,
) -> dict[str, Any]:
    """红黑榜 of the period: ``{"period", "kind", "rule", "red": [...], "black": [...]}`` (items as in
    :func:`ranking`; black worst first)."""
    config = config or default_config()
    p = resolve(period, start, end)
    ranked = await ranking_for(session, p, kind=kind, now=now, config=config)
    return {"period": p.as_dict(), "kind": kind, **pick_lists(ranked["items"], config, p.kind)}


# --------------------------------------------------------------------------------------------- trend, report
def _local_day(column: Any) -> Any:
    return cast(func.timezone("Asia/Shanghai", column), Date)


async def trend_for(session: AsyncSession, p: Period) -> list[dict[str, Any]]:
    """Per day of the period: cases received, replies, closes."""
    days: dict[date, Counter[str]] = {p.first + timedelta(days=i): Counter() for i in range(p.days)}
    rday = _local_day(MeasureCase.received_at)
    stmt = (
        select(rday, func.count())
        .where(MeasureCase.received_at >= p.start, MeasureCase.received_at < p.end)
        .group_by(rday)
    )
    for d, n in (await session.execute(stmt)).all():
        days.setdefault(d, Counter())["received"] += int(n)
    fday = _local_day(MeasureFact.at)
    stmt2 = (
        select(fday, MeasureFact.kind, func.count())
        .where(MeasureFact.kind.in_(("replied", "closed")), MeasureFact.at >= p.start, MeasureFact.at < p.end)
        .group_by(fday, MeasureFact.kind)
    )
    for d, kind, n in (await session.execute(stmt2)).all():
        days.setdefault(d, Counter())[str(kind)] += int(n)
    return [
        {"day": d.isoformat(), "received": c["received"], "replied": c["replied"], "closed": c["closed"]}
        for d, c in sorted(days.items())
    ]


async def trend(
    session: AsyncSession, *, period: str = "month", start: date | None = None, end: date | None = None
) -> list[dict[str, Any]]:
    return await trend_for(session, resolve(period, start, end))


async def monthly_report(
    session: AsyncSession, month: date, *, now: datetime | None = None, config: MeasuresConfig | None = None
) -> dict[str, Any]:
    """The monthly report (月度考核报告): totals and the month before (环比), 三率 and the other rates per
    department (ranked), street, category and channel, the 20 busiest grids, 红黑榜, 逆向评价, the daily trend."""
    from services.analytics.reviews.service import review_summary

    config = config or default_config()
    now = now or datetime.now(UTC)
    p = month_period(month)
    by: dict[str, dict[str, Any]] = {}
    for group in ("department", "street", "category", "channel", "grid"):
        by[group] = await measures_for(session, p, group_by=group, now=now, config=config)
    total = by["department"]["total"]
    previous = (await measures_for(session, p.previous(), group_by="total", now=now, config=config))["total"]
    ranked = await ranking_for(session, p, kind="department", now=now, config=config, figures=by["department"])
    streets_ranked = await ranking_for(session, p, kind="street", now=now, config=config, figures=by["department"])
    lists = pick_lists(ranked["items"], config, "month")
    grids = sorted((g for g in by["grid"]["items"] if g["code"] != "-"), key=lambda g: (-g["received"], g["code"]))[:20]
    return {
        "month": p.first.strftime("%Y-%m"),
        "period": p.as_dict(),
        "previous_period": p.previous().as_dict(),
        "generated_at": now.isoformat(),
        "district": default_catalog().district_name,
        "config_version": config.version,
        "weights": dict(config.ranking.weights),
        "satisfaction_weights": dict(config.satisfaction),
        "total": total,
        "previous": previous,
        "departments": ranked["items"],
        "street_handlers": streets_ranked["items"],
        "min_volume": ranked["min_volume"],
        "red": lists["red"],
        "black": lists["black"],
        "list_rule": lists["rule"],
        "streets": by["street"]["items"],
        "categories": by["category"]["items"],
        "channels": by["channel"]["items"],
        "grids": grids,
        "reviews": await review_summary(session, p.first),
        "trend": await trend_for(session, p),
    }


# --------------------------------------------------------------------------------------------- case export
EXPORT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("tracking_code", "查询码"),
    ("received_at", "受理时间"),
    ("channel_name", "渠道"),
    ("kind", "诉求类型"),
    ("category_name", "类别"),
    ("matter_code", "事项编码"),
    ("street_name", "街道"),
    ("grid_name", "网格"),
    ("lead_name", "承办单位"),
    ("state_name", "状态"),
    ("deadline_at", "办理时限"),
    ("overdue", "是否超期"),
    ("returns", "退单次数"),
    ("reopens", "重办次数"),
    ("survey_result", "回访结果"),
    ("closed_at", "结案时间"),
)
STATE_NAMES: dict[str, str] = {
    "accepted": "已受理",
    "triage": "待派单",
    "transferred": "已转紧急服务",
    "answered": "已答复",
    "dispatched": "待签收",
    "signed": "办理中",
    "returned": "退单待审",
    "suspended": "已挂起",
    "replied": "已办结",
    "verified": "已核查",
    "surveyed": "已回访",
    "merged": "已并单",
    "closed": "已结案",
}
STATUS_GROUPS: dict[str, tuple[str, ...]] = {
    "open": OPEN_STATES,
    "done": ("replied", "verified", "surveyed", "closed", "answered", "transferred"),
}
MAX_EXPORT_ROWS = 50_000


def _local(at: datetime | None) -> str:
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if at else ""


async def case_rows(
    session: AsyncSession,
    *,
    period: str = "month",
    start: date | None = None,
    end: date | None = None,
    street: str | None = None,
    department: str | None = None,
    category: str | None = None,
    status: str | None = None,
    overdue: bool | None = None,
    now: datetime | None = None,
    limit: int = MAX_EXPORT_ROWS,
) -> tuple[Period, list[dict[str, Any]]]:
    """Cases received in the period, filtered (street, current lead department, category, status = a state code
    or ``open``/``done``, overdue = now past the deadline in a state whose clock runs); newest first."""
    from shared.errors import InvalidInput

    p = resolve(period, start, end)
    now = now or datetime.now(UTC)
    c = MeasureCase
    stmt = select(c).where(c.received_at >= p.start, c.received_at < p.end)
    if street:
        stmt = stmt.where(c.street_code == street)
    if department:
        stmt = stmt.where(c.lead == department)
    if category:
        stmt = stmt.where(c.category == category)
    if status:
        if status in STATUS_GROUPS:
            stmt = stmt.where(c.state.in_(STATUS_GROUPS[status]))
        elif status in STATE_NAMES:
            stmt = stmt.where(c.state == status)
        else:
            raise InvalidInput(
                "状态 status 须为 open（在办）、done（已办结）或工单状态代码（" + "、".join(STATE_NAMES) + "）",
                field="status",
            )
    late = and_(c.state.in_(CLOCK_STATES), c.deadline_at.is_not(None), c.deadline_at < now)
    if overdue is True:
        stmt = stmt.where(late)
    elif overdue is False:
        stmt = stmt.where(~late)
    stmt = stmt.order_by(c.received_at.desc(), c.case_id).limit(limit)
    rows: list[dict[str, Any]] = []
    for r in (await session.execute(stmt)).scalars():
        is_late = r.state in CLOCK_STATES and r.deadline_at is not None and r.deadline_at < now
        rows.append(
            {
                "tracking_code": r.tracking_code,
                "received_at": _local(r.received_at),
                "channel": r.channel,
                "channel_name": names.CHANNEL_NAMES.get(r.channel, r.channel),
                "kind": r.kind or "",
                "category": r.category,
                "category_name": CATEGORY_NAMES.get(r.category, "未分类"),
                "matter_code": r.matter_code or "",
                "street_code": r.street_code,
                "street_name": names.street_name(r.street_code),
                "grid_code": r.grid_code,
                "grid_name": names.grid_name(r.grid_code),
                "lead": r.lead or "",
                "lead_name": names.department_name(r.lead) if r.lead else "未派单",
                "state": r.state,
                "state_name": STATE_NAMES.get(r.state, r.state),
                "deadline_at": _local(r.deadline_at),
                "overdue": "是" if is_late else "否",
                "returns": r.returns,
                "reopens": r.reopens,
                "survey_result": r.survey_result or "",
                "closed_at": _local(r.closed_at),
            }
        )
    return p, rows
