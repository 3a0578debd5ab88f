"""Every measure against a count taken straight from the event stream.

A generated stream (1,200 cases through dispatch's state machine: every kind of transition) is fed into the analytics
projections the way the consumer feeds them (tracking records + the consumer's handler, in batches of varying size);
then every figure of every grouping and period kind is compared with a brute-force recount from the raw events
(tests/integration/measures_stream.py, no code shared with the projection), the ranking and 红黑榜 with the
configured weights and thresholds, and the same events fed again change nothing.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.analytics.consumers import PROJECTION_TABLES, handle_case_events
from services.analytics.measures import service
from services.analytics.measures.config import INVERTED, default_config
from services.analytics.measures.periods import Period, resolve
from services.analytics.reviews import service as reviews
from services.analytics.reviews.schemas import RatingIn
from shared.consumer import ConsumedEvent, claim_events
from shared.db import make_engine, make_sessionmaker
from shared.events.cases import CaseEventV1
from shared.events.envelope import encode_event
from shared.settings import Settings
from tests.integration.measures_stream import NOW, SECRET_NAME, SECRET_PHONE, START, recount, simulate

N_CASES = 1200
FIGURE_COUNTS = (
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
RATE_OF = {
    "sign_rate_24h": ("signed_24h", "sign_due_24h"),
    "response_rate": ("responded", "response_due"),
    "return_rate": ("returned", "assigned"),
    "on_time_rate": ("replied_on_time", "replied"),
    "reopen_rate": ("closed_reopened", "closed"),
    "one_time_rate": ("closed_one_time", "closed"),
    "solve_rate": ("solved", "solve_base"),
    "satisfaction_rate": ("satisfaction_points", "rated"),
}


def as_consumed(events: Sequence[CaseEventV1]) -> list[ConsumedEvent]:
    """Each event in its CloudEvents envelope with a fixed id (a redelivery carries the same id)."""
    out = []
    for i, event in enumerate(events):
        _, _, envelope = encode_event(event, source="dispatch", event_id=f"ev-{i:07d}")
        out.append(ConsumedEvent(envelope, event, "linkage.dispatch.cases.v1", 0, i, event.case_id))
    return out


async def feed(maker: async_sessionmaker[AsyncSession], group: str, events: list[ConsumedEvent], seed: int) -> int:
    """Apply like the consumer: batches (1–700 events) in one transaction with their tracking records."""
    rng = random.Random(seed)
    applied = i = 0
    while i < len(events):
        size = rng.choice((1, 7, 50, 300, 700))
        batch = events[i : i + size]
        i += size
        async with maker() as session, session.begin():
            fresh_ids = await claim_events(session, group, [e.id for e in batch])
            fresh = [e for e in batch if e.id in fresh_ids]
            if fresh:
                await handle_case_events(session, fresh)
            applied += len(fresh)
    return applied


@pytest.fixture(scope="module")
def stream() -> list[CaseEventV1]:
    return simulate(N_CASES)


@pytest.fixture(scope="module")
def consumed(stream: list[CaseEventV1]) -> list[ConsumedEvent]:
    return as_consumed(stream)


@pytest.fixture(scope="module")
async def maker(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(settings, "analytics", pool_size=2)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
async def fed(maker: async_sessionmaker[AsyncSession], consumed: list[ConsumedEvent]) -> str:
    group = f"measures-{uuid.uuid4().hex[:6]}"
    async with maker() as session, session.begin():
        for table in (*PROJECTION_TABLES, "department_reviews"):
            await session.execute(text(f"DELETE FROM {table}"))
    assert await feed(maker, group, consumed, seed=1) == len(consumed)
    return group


def periods() -> list[Period]:
    return [
        resolve("month", date(2026, 10, 1)),
        resolve("month", date(2026, 11, 1)),
        resolve("week", date(2026, 10, 14)),
        resolve("day", date(2026, 11, 3)),
        resolve("custom", START.date() - timedelta(days=1), date(2026, 12, 31)),
    ]


def check_figures(got: dict[str, Any], want: dict[str, Any], where: str) -> None:
    for name in FIGURE_COUNTS:
        assert got[name] == int(want.get(name, 0)), f"{where}: {name} {got[name]} != {want.get(name, 0)}"
    assert got["satisfaction_points"] == pytest.approx(want.get("satisfaction_points", 0.0), abs=1e-6), where
    for result in ("满意", "基本满意", "不满意", "未评价"):
        assert got["survey"][result] == int(want.get("survey:" + result, 0)), f"{where}: survey {result}"
    for rate, (part, whole) in RATE_OF.items():
        expected = round(want.get(part, 0) / want[whole], 4) if want.get(whole) else None
        assert got[rate] == (pytest.approx(expected, abs=1e-4) if expected is not None else None), f"{where}: {rate}"


async def test_every_measure_equals_a_recount_from_the_raw_events(
    maker: async_sessionmaker[AsyncSession], stream: list[CaseEventV1], fed: str
) -> None:
    config = default_config()
    checked = 0
    for p in periods():
        for group_by in service.GROUPS:
            async with maker() as session:
                got = await service.measures_for(session, p, group_by=group_by, now=NOW, config=config)
            want = recount(
                stream,
                p.first,
                p.last,
                group_by,
                now=NOW,
                satisfaction=dict(config.satisfaction),
                solved_results=config.solved_results,
                window_h=config.sign_window_hours,
                fallback_h=config.response_fallback_hours,
            )
            if group_by == "total":
                check_figures(got["total"], want.get("*", {}), f"{p.label} total")
                checked += 1
                continue
            items = {i["code"]: i for i in got["items"]}
            for code in set(items) | set(want):
                empty = service.empty_figures()
                check_figures(
                    items.get(code, service.finish(empty)), want.get(code, {}), f"{p.label} {group_by}={code}"
                )
                checked += 1
            # the grouped figures add up to the total
            total = got["total"]
            for name in ("received", "assigned", "replied", "closed", "surveyed"):
                assert sum(i[name] for i in got["items"]) == total[name], f"{p.label} {group_by} {name}"
    assert checked > 150
    # the stream really exercised every figure (non-trivial numerators and denominators)
    async with maker() as session:
        whole = (await service.measures_for(session, periods()[-1], now=NOW, config=config))["total"]
    for name in FIGURE_COUNTS:
        if name != "overdue_open":
            assert whole[name] > 0, name
    assert 0 < whole["closed_one_time"] < whole["closed"] and 0 < whole["closed_reopened"] < whole["closed"]
    assert 0 < whole["signed_24h"] < whole["sign_due_24h"] < whole["assigned"]
    assert 0 < whole["responded"] < whole["response_due"]
    assert whole["overdue_open"] > 0


async def test_the_stream_holds_own_solved_answers_against_the_satisfaction(
    maker: async_sessionmaker[AsyncSession], stream: list[CaseEventV1], fed: str
) -> None:
    """解决率 follows the citizen's own 已解决/未解决 answer where the survey event has one (不满意 but solved, 满意 but
    unsolved both in the stream) and the result only where it has none (older events)."""
    config = default_config()
    pairs: dict[tuple[str, bool | None], int] = {}
    for e in stream:
        if e.action == "surveyed":
            own = e.details.get("solved")
            key = (str(e.details.get("result")), own if isinstance(own, bool) else None)
            pairs[key] = pairs.get(key, 0) + 1
    for result in ("满意", "基本满意", "不满意"):
        for own in (True, False, None):
            assert pairs.get((result, own), 0) > 5, (result, own, pairs)
    assert pairs.get(("未评价", True), 0) and pairs.get(("未评价", False), 0), pairs
    whole = periods()[-1]
    want = recount(
        stream,
        whole.first,
        whole.last,
        "total",
        now=NOW,
        satisfaction=dict(config.satisfaction),
        solved_results=config.solved_results,
        window_h=config.sign_window_hours,
        fallback_h=config.response_fallback_hours,
    )["*"]
    # the same events read by the result alone (today's rule for events without the answer) give other figures
    by_result = sum(n for (result, _), n in pairs.items() if result in config.solved_results)
    based = sum(n for (result, own), n in pairs.items() if result != "未评价" or own is not None)
    assert want["solve_base"] == based and want["solved"] != by_result
    async with maker() as session:
        got = (await service.measures_for(session, whole, now=NOW, config=config))["total"]
    assert (got["solved"], got["solve_base"]) == (want["solved"], want["solve_base"])
    assert got["solve_rate"] == pytest.approx(round(want["solved"] / want["solve_base"], 4), abs=1e-4)


async def test_ranking_and_red_black_list_follow_the_configuration(
    maker: async_sessionmaker[AsyncSession], stream: list[CaseEventV1], fed: str
) -> None:
    config = default_config()
    p = resolve("month", date(2026, 10, 1))
    # two streets rate the departments that served them (逆向评价), one of them twice (the second replaces the first)
    async with maker() as session, session.begin():
        served = await reviews.served_departments(session, "S01", p.first)
        assert served, "the stream dispatches cases of S01 to departments in October"
        codes = sorted(served)
        await reviews.submit(
            session, "S01", p.first, [RatingIn(department=c, score=1) for c in codes], reviewer="t", now=NOW
        )
        await reviews.submit(session, "S01", p.first, [RatingIn(department=codes[0], score=5)], reviewer="t", now=NOW)
        served2 = await reviews.served_departments(session, "S02", p.first)
        await reviews.submit(
            session, "S02", p.first, [RatingIn(department=c, score=4) for c in sorted(served2)], reviewer="t", now=NOW
        )
    given: dict[str, list[int]] = {}
    for c in codes:
        given.setdefault(c, []).append(5 if c == codes[0] else 1)
    for c in served2:
        given.setdefault(c, []).append(4)

    async with maker() as session:
        ranked = await service.ranking_for(session, p, now=NOW, config=config)
        lists = await service.red_black_list(session, period="month", start=p.first, now=NOW, config=config)
    want = recount(
        stream,
        p.first,
        p.last,
        "department",
        now=NOW,
        satisfaction=dict(config.satisfaction),
        solved_results=config.solved_results,
    )
    rule = config.lists["month"]
    expected: list[tuple[str, float, bool]] = []
    for code, figures in want.items():
        kind = code and code[0]
        if code in ("-",) or code.startswith("S0"):
            continue
        del kind
        num = den = 0.0
        for figure, weight in config.ranking.weights.items():
            if figure == "review":
                value = (sum(given[code]) / len(given[code]) - 1) / 4 if code in given else None
            else:
                part, whole = RATE_OF[figure]
                value = figures.get(part, 0) / figures[whole] if figures.get(whole) else None
            if value is None or weight <= 0:
                continue
            value = 1 - value if figure in INVERTED else value
            num, den = num + weight * value, den + weight
        score = round(100 * num / den, 2) if den else None
        expected.append((code, score or 0.0, figures.get("assigned", 0) >= rule.min_volume and score is not None))
    got = {i["code"]: i for i in ranked["items"]}
    assert set(got) == {c for c, _, _ in expected}
    for code, score, eligible in expected:
        assert got[code]["score"] == pytest.approx(score, abs=0.011), code
        assert got[code]["eligible"] is eligible, code
        if code in given:
            assert got[code]["review"]["count"] == len(given[code])
    ranked_codes = [i["code"] for i in ranked["items"] if i["eligible"]]
    assert ranked_codes == [
        c for c, _, _ in sorted((e for e in expected if e[2]), key=lambda e: (-e[1], -got[e[0]]["assigned"], e[0]))
    ]
    assert [i["rank"] for i in ranked["items"] if i["eligible"]] == list(range(1, len(ranked_codes) + 1))

    # 红黑榜: top N or ≥ min_score; bottom N or < below, never both
    scores = {c: got[c]["score"] for c in ranked_codes}
    red = {
        c
        for i, c in enumerate(ranked_codes)
        if i < (rule.red.top or 0) or (rule.red.min_score is not None and scores[c] >= rule.red.min_score)
    }
    black = {
        c
        for i, c in enumerate(ranked_codes)
        if c not in red
        and (
            i >= len(ranked_codes) - (rule.black.bottom or 0)
            or (rule.black.below is not None and scores[c] < rule.black.below)
        )
    }
    assert {i["code"] for i in lists["red"]} == red
    assert {i["code"] for i in lists["black"]} == black
    assert red and black


async def test_feeding_the_same_events_again_changes_nothing(
    maker: async_sessionmaker[AsyncSession], consumed: list[ConsumedEvent], fed: str
) -> None:
    async def snapshot() -> tuple[Any, ...]:
        async with maker() as session:
            rows = {}
            for table in ("measure_cases", "measure_facts", "daily_counts", "grid_daily_counts", "case_status"):
                rows[table] = sorted(
                    map(tuple, (await session.execute(text(f"SELECT * FROM {table}"))).all()), key=repr
                )
            figures = [
                await service.measures_for(session, p, group_by=g, now=NOW)
                for p in periods()[:2]
                for g in service.GROUPS
            ]
            for f in figures:
                f.pop("generated_at")
        return rows, figures

    before = await snapshot()
    # a redelivery of everything in other batch sizes, and of a random tenth once more
    assert await feed(maker, fed, consumed, seed=2) == 0
    again = random.Random(3).sample(consumed, len(consumed) // 10)
    again.sort(key=lambda e: e.offset)
    assert await feed(maker, fed, again, seed=4) == 0
    assert await snapshot() == before


async def test_the_projections_hold_no_personal_data(maker: async_sessionmaker[AsyncSession], fed: str) -> None:
    async with maker() as session:
        for table in (*PROJECTION_TABLES, "department_reviews"):
            dump = repr((await session.execute(text(f"SELECT * FROM {table}"))).all())
            assert SECRET_NAME not in dump and SECRET_PHONE not in dump, table
