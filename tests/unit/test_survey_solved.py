"""The citizen's own 已解决 / 未解决 answer: asked first on the survey page, read from an SMS reply when written
beside the number, carried unchanged (never derived from the satisfaction) by the answer and the event, and shown
in dispatch's history line. The page itself is tried in Chromium (keyboard only, phone width) when it is there."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from pydantic import ValidationError

from services.dispatch.case.history import describe
from services.notify.survey import routes, service
from shared.events.feedback import SurveyAnsweredV1

CHROMIUM = "/usr/bin/chromium"


@pytest.mark.parametrize(
    ("reply", "result", "solved"),
    [
        ("1", "满意", None),
        ("2 已解决", "基本满意", True),
        ("3未解决", "不满意", False),
        ("不满意，已解决", "不满意", True),
        ("已解决 满意", "满意", True),
        ("1 没有解决", "满意", False),
        ("基本满意。", "基本满意", None),
        (2, "基本满意", None),
        ("已解决", None, True),
        ("4 已解决", None, True),
        (True, None, None),
    ],
)
def test_an_sms_reply_may_say_solved_beside_its_number(reply: object, result: str | None, solved: bool | None) -> None:
    assert service.parse_answer(reply) == result
    assert service.parse_solved(reply) is solved


def test_the_answer_body_carries_solved_as_given_or_as_written() -> None:
    given = routes.TokenAnswerIn.model_validate({"token": "t" * 20, "answer": "3", "solved": True})
    assert (given.result, given.solved) == ("不满意", True)  # 不满意 but solved: nothing is derived
    unsolved = routes.AnswerFields.model_validate({"answer": "满意", "solved": False})
    assert (unsolved.result, unsolved.solved) == ("满意", False)
    written = routes.GatewayReplyIn.model_validate({"phone": "13800138000", "answer": "2 未解决"})
    assert (written.result, written.solved) == ("基本满意", False)
    plain = routes.GatewayReplyIn.model_validate({"phone": "13800138000", "answer": "1"})
    assert (plain.result, plain.solved) == ("满意", None)  # an SMS reply with only a number: unknown
    with pytest.raises(ValidationError) as bad:
        routes.AnswerFields.model_validate({"answer": "2", "solved": "也许"})
    assert [e["loc"] for e in bad.value.errors()] == [("solved",)]
    with pytest.raises(ValidationError):
        routes.AnswerFields.model_validate({"answer": "已解决"})  # the satisfaction is still required


def test_the_event_field_is_optional_and_old_events_still_read() -> None:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    old = SurveyAnsweredV1.model_validate(
        {"case_id": "c1", "tracking_code": "CH1", "result": "满意", "answered_at": at.isoformat()}
    )
    assert old.solved is None
    new = SurveyAnsweredV1(case_id="c1", tracking_code="CH1", result="基本满意", solved=False, answered_at=at)
    assert SurveyAnsweredV1.model_validate_json(new.model_dump_json()).solved is False


def test_the_round_as_json_names_the_question() -> None:
    out = routes.SurveyOut(
        tracking_code="CH1", awaiting_answer=True, answered=None, expires_at=datetime.now(UTC), answer_url="/x"
    )
    assert out.solved_question == "您反映的问题解决了吗？"
    assert out.solved_options == {"已解决": True, "未解决": False}


def test_the_page_asks_solved_first_and_both_are_required() -> None:
    page = routes._html("满意度评价", routes.PAGE_FORM.replace("__CODE__", "CH1"))
    solved_at, answer_at = page.index("您反映的问题解决了吗？"), page.index("您对办理结果满意吗？")
    assert solved_at < answer_at
    radios = re.findall(r'<input type="radio" name="(\w+)" value="(\d)"( required)?>', page)
    assert [(n, v) for n, v, _ in radios] == [
        ("solved", "1"),
        ("solved", "0"),
        ("answer", "1"),
        ("answer", "2"),
        ("answer", "3"),
    ]
    assert {n for n, _, req in radios if req} == {"solved", "answer"}
    for text in ("已解决", "未解决", "满意", "基本满意", "不满意", "提交评价", "（必选）"):
        assert text in page
    assert 'solved: solved === "1"' in page  # the page posts it as a boolean


def test_dispatch_history_line_shows_the_own_answer() -> None:
    assert describe("surveyed", {"result": "满意", "solved": False}).endswith("：未解决，满意")
    assert describe("surveyed", {"result": "不满意", "solved": True}).endswith("：已解决，不满意")
    assert describe("surveyed", {"result": "满意"}).endswith("：满意")


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}")
def test_the_page_works_from_the_keyboard_at_phone_width() -> None:
    """Served by a stub (the real page's HTML, the answer endpoint answered in the browser): Tab to the first
    group, arrows choose, a missing answer is named, Enter sends; the body posted carries solved and answer."""
    from playwright.sync_api import Route, sync_playwright

    html = routes._html("满意度评价", routes.PAGE_FORM.replace("__CODE__", "CH2612010001"))
    posted: list[dict[str, Any]] = []

    def serve(route: Route) -> None:
        if route.request.method == "POST":
            posted.append(cast(dict[str, Any], route.request.post_data_json))
            route.fulfill(status=202, content_type="application/json", body="{}")
        else:
            route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 360, "height": 740})
            page.route("http://survey.test/**", serve)
            page.goto("http://survey.test/survey/tok0123456789abcdef")
            assert page.evaluate("document.documentElement.scrollWidth") <= 360
            boxes = page.evaluate(
                "[...document.querySelectorAll('.pick span')].map(s => s.getBoundingClientRect().width)"
            )
            assert len(boxes) == 5 and min(boxes) > 100, boxes
            # nothing chosen: Enter on the button names the first question and focuses it
            page.focus("#send")
            page.keyboard.press("Enter")
            assert page.locator("#result").inner_text() == "请先选择：您反映的问题解决了吗？"
            assert page.evaluate("document.activeElement.name") == "solved"
            assert not posted
            page.keyboard.press("Space")  # 已解决
            page.keyboard.press("Tab")  # to the satisfaction group
            assert page.evaluate("document.activeElement.name") == "answer"
            page.keyboard.press("Space")  # 满意
            page.keyboard.press("ArrowRight")  # 基本满意
            page.keyboard.press("Enter")
            page.locator("#result.ok").wait_for()
            assert page.locator("#result").inner_text() == "感谢您的评价！您的意见将用于改进办理工作。"
            assert posted == [{"answer": "2", "solved": True, "channel": "web", "comment": None}]
        finally:
            browser.close()
