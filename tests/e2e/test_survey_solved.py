"""解决率 by the citizen's own answer, through the running system: two cases are replied (test_notify's setup); the
first is answered on the real survey page in Chromium (已解决 + 基本满意), the second through its link as 满意 but
未解决; dispatch keeps each own answer in the surveyed entry and the measures API counts them by it — the first
grid's 解决率 moves to solved, the second's counts an answer that is not solved although 满意."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_notify import _replied_case, _survey_token, keys  # noqa: F401 - the module's keys fixture
from tests.e2e.workbench_support import CHROMIUM, chromium_page, shot
from tests.support import Stack, wait_until

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"no Chromium binary at {CHROMIUM} (apt-get install chromium)"
)

FIGURES = ("solved", "solve_base", "surveyed")


def _grids(stack: Stack) -> dict[str, dict[str, Any]]:
    r = httpx.get(f"{stack.url('analytics')}/api/v1/measures", params={"period": "day", "group_by": "grid"}, timeout=10)
    assert r.status_code == 200, r.text
    return {i["code"]: i for i in r.json()["items"]}


def _figures(grids: dict[str, dict[str, Any]], code: str) -> dict[str, Any]:
    return grids.get(code) or {name: 0 for name in FIGURES}


def _surveyed(stack: Stack, dk: dict[str, str], case_id: str) -> dict[str, Any] | None:
    r = httpx.get(f"{stack.url('dispatch')}/api/v1/dispatch/cases/{case_id}", headers=dk, timeout=10)
    assert r.status_code == 200, r.text
    return next((h for h in r.json()["history"] if h["action"] == "surveyed"), None)


def test_the_citizens_own_solved_answer_moves_the_solve_rate(
    stack: Stack,
    keys: dict[str, dict[str, str]],  # noqa: F811 - the fixture imported above
) -> None:
    from playwright.sync_api import expect

    dk = {"X-API-Key": keys["dispatcher"]["ZX"]}
    first = _replied_case(stack, keys, "13700137001")
    second = _replied_case(stack, keys, "13700137002")
    grid_a, grid_b = first["grid_code"], second["grid_code"]
    assert grid_a and grid_b, (first, second)
    token_a = _survey_token(stack, first["tracking_code"])
    token_b = _survey_token(stack, second["tracking_code"])
    before = _grids(stack)
    start = {g: _figures(before, g) for g in {grid_a, grid_b}}

    # the first citizen opens the link from the SMS: 已解决 + 基本满意, sent with the keyboard's Enter
    with chromium_page(390, 900) as page:
        page.goto(f"{stack.url('notify')}/survey/{token_a}")
        expect(page.locator("#q-solved legend")).to_contain_text("您反映的问题解决了吗？")
        page.click(".pick.s2")
        page.click("#send")  # the solved question is still open: named, nothing sent
        expect(page.locator("#result")).to_have_text("请先选择：您反映的问题解决了吗？")
        page.click(".pick.yes")
        page.focus("#send")
        page.keyboard.press("Enter")
        expect(page.locator("#result")).to_have_text("感谢您的评价！您的意见将用于改进办理工作。")
        shot(page, "survey-solved-390")
    # the second answers through its link: 满意, but the problem is not solved
    r = httpx.post(f"{stack.url('notify')}/api/v1/surveys/{token_b}", json={"answer": "1", "solved": False}, timeout=10)
    assert r.status_code == 202 and r.json()["solved"] is False, r.text

    entry_a = wait_until(lambda: _surveyed(stack, dk, first["id"]), message="first case surveyed")
    entry_b = wait_until(lambda: _surveyed(stack, dk, second["id"]), message="second case surveyed")
    assert entry_a["details"] == {"result": "基本满意", "solved": True} and entry_a["line"].endswith("已解决，基本满意")
    assert entry_b["details"] == {"result": "满意", "solved": False} and entry_b["line"].endswith("未解决，满意")

    want = {g: dict(start[g]) for g in start}
    want[grid_a]["solved"] += 1
    for g in (grid_a, grid_b):
        want[g]["solve_base"] += 1
        want[g]["surveyed"] += 1

    def counted() -> dict[str, dict[str, Any]] | None:
        now = _grids(stack)
        got = {g: _figures(now, g) for g in want}
        return got if all(got[g]["surveyed"] >= want[g]["surveyed"] for g in want) else None

    after = wait_until(counted, message="both answers counted by analytics")
    for g in want:
        assert {n: after[g][n] for n in FIGURES} == {n: want[g][n] for n in FIGURES}, (g, start[g], after[g])
        assert after[g]["solve_rate"] == pytest.approx(round(want[g]["solved"] / want[g]["solve_base"], 4))
    if grid_a != grid_b:  # the usual case: each grid shows its own answer
        was_a, was_b = start[grid_a].get("solve_rate"), start[grid_b].get("solve_rate")
        assert after[grid_a]["solve_rate"] == 1.0 if was_a is None else after[grid_a]["solve_rate"] >= was_a
        if was_b is None:
            assert after[grid_b]["solve_rate"] == 0.0  # 满意, yet not solved: the citizen said so
        else:
            assert after[grid_b]["solve_rate"] <= was_b
