"""The measures through the running stack: a complaint filed on intake is counted; the monthly report (page, JSON,
CSV, XLSX), the keyed case export and 逆向评价 (API and page) over a generated history; the pages in a real headless
Chromium at 1280, 1440 and 1920 px wide, screenshots in /tmp/shots/ (and var/screenshots/).

The history (600 cases through dispatch's state machine, ending three days ago) is written straight into the
measure projections of the stack's analytics schema (not the command-center ones), and removed afterwards.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import text

from services.analytics.measures.periods import previous_month
from services.analytics.measures.projection import apply_measure_events
from shared.db import make_engine, make_sessionmaker
from shared.events.cases import CaseEventV1
from tests.e2e.pages_support import demo_keys, file_complaint
from tests.integration.measures_stream import SECRET_NAME, SECRET_PHONE, SPAN_DAYS, START, simulate
from tests.support import REPO, Infra, Stack, distinct_spot, wait_until

CHROMIUM = os.environ.get("LINKAGE_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
SHOTS = Path("/tmp/shots")
WIDTHS = (1280, 1440, 1920)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _shift(event: CaseEventV1, delta: timedelta) -> CaseEventV1:
    details = dict(event.details)
    if details.get("sign_deadline_at"):
        details["sign_deadline_at"] = str(datetime.fromisoformat(details["sign_deadline_at"]) + delta)
    return event.model_copy(
        update={
            "at": event.at + delta,
            "received_at": event.received_at + delta if event.received_at else None,
            "deadline": event.deadline + delta if event.deadline else None,
            "details": details,
        }
    )


@pytest.fixture(scope="module")
def keys(infra: Infra) -> dict[str, dict[str, str]]:
    return demo_keys(infra)


@pytest.fixture(scope="module")
def history(infra: Infra) -> Iterator[date]:
    """A generated history ending three days ago; yields the month before this one (fully covered)."""
    end = datetime.now(UTC) - timedelta(days=3)
    delta = timedelta(days=(end - (START + timedelta(days=SPAN_DAYS))).days)
    events = [_shift(e, delta) for e in simulate(600, seed=5)]

    async def write(remove: bool) -> None:
        engine = make_engine(infra.settings(), "analytics", pool_size=1)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                for table in ("measure_facts", "measure_cases"):
                    await session.execute(text(f"DELETE FROM {table} WHERE case_id LIKE 'C0%'"))
                if remove:
                    await session.execute(text("DELETE FROM department_reviews"))
                else:
                    await apply_measure_events(session, events)
        finally:
            await engine.dispose()

    asyncio.run(write(remove=False))
    try:
        yield previous_month(date.today().replace(day=1))
    finally:
        asyncio.run(write(remove=True))


def test_measures_report_export_and_reviews_through_the_api(
    stack: Stack, keys: dict[str, dict[str, str]], history: date
) -> None:
    base = stack.url("analytics")
    month = history.strftime("%Y-%m")
    dk = {"X-API-Key": keys["dispatcher"]["ZX"]}

    # a complaint filed now is counted today (received, and dispatched to its department)
    def today(group_by: str = "total") -> dict[str, Any]:
        r = httpx.get(f"{base}/api/v1/measures", params={"period": "day", "group_by": group_by}, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def department(code: str) -> dict[str, Any]:
        found = next((i for i in today("department")["items"] if i["code"] == code), None)
        return found or {k: 0 for k in ("assigned", "signed_24h", "responded", "replied", "replied_on_time")}

    before = today()["total"]
    case = file_complaint(stack, dk["X-API-Key"], **distinct_spot())
    assert case["state"] == "dispatched" and case["lead"], case
    lead = case["lead"]
    wait_until(lambda: today()["total"]["received"] > before["received"], message="the complaint counted")
    dept_before = wait_until(lambda: department(lead)["assigned"] and department(lead), message="dispatch counted")
    # the department signs at once and replies: counted as signed within 24 h and in time, replied on time
    hk = {"X-API-Key": keys["handler"][lead]}
    dispatch = stack.url("dispatch")
    assert httpx.post(f"{dispatch}/api/v1/handler/cases/{case['id']}/sign", headers=hk, timeout=10).is_success
    r = httpx.post(
        f"{dispatch}/api/v1/handler/cases/{case['id']}/reply", headers=hk, json={"text": "已清理"}, timeout=10
    )
    assert r.is_success, r.text
    after = wait_until(
        lambda: (d := department(lead))["replied"] > dept_before["replied"] and d, message="the reply counted"
    )
    for name in ("signed_24h", "responded", "replied", "replied_on_time"):
        assert after[name] >= dept_before[name] + 1, name

    # the report, its CSV and XLSX agree with the measures
    report = httpx.get(f"{base}/api/v1/reports/monthly", params={"month": month}, timeout=30).json()
    measures = httpx.get(
        f"{base}/api/v1/measures", params={"period": "month", "start": history.isoformat()}, timeout=30
    ).json()
    assert report["total"]["received"] == measures["total"]["received"] > 100
    ranking = httpx.get(
        f"{base}/api/v1/measures/ranking", params={"period": "month", "start": history.isoformat()}, timeout=30
    ).json()
    assert [i["code"] for i in ranking["items"]] == [i["code"] for i in report["departments"]]
    lists = httpx.get(
        f"{base}/api/v1/measures/red-black", params={"period": "month", "start": history.isoformat()}, timeout=30
    ).json()
    assert [i["code"] for i in lists["red"]] == [i["code"] for i in report["red"]] and lists["red"]
    csv = httpx.get(f"{base}/api/v1/reports/monthly.csv", params={"month": month}, timeout=30)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    body = csv.content.decode("utf-8-sig")
    assert (
        body.startswith("总体指标") and f"受理量,{report['total']['received']}," in body and "职能部门考核排名" in body
    )
    xlsx = httpx.get(f"{base}/api/v1/reports/monthly.xlsx", params={"month": month}, timeout=30)
    assert xlsx.status_code == 200 and xlsx.headers["content-type"] == XLSX
    book = load_workbook(io.BytesIO(xlsx.content))
    assert {"总体指标", "部门排名", "红黑榜", "按街道", "逆向评价", "每日趋势"} <= set(book.sheetnames)
    assert book["总体指标"]["B3"].value == report["total"]["received"]
    bad = httpx.get(f"{base}/api/v1/measures", params={"period": "custom", "start": "2026-01-01"}, timeout=10)
    assert bad.status_code == 422 and "结束日期" in bad.json()["message"]

    # the staff case export: keyed, filtered, no personal data
    url = f"{base}/api/v1/exports/cases.csv"
    assert httpx.get(url, timeout=10).status_code == 401
    assert httpx.get(url, headers={"X-API-Key": "nope"}, timeout=10).status_code == 401
    assert httpx.get(url, headers={"X-API-Key": keys["handler"]["CGJ"]}, timeout=10).status_code == 403
    params = {"period": "month", "start": history.isoformat(), "street": "S01"}
    export = httpx.get(url, headers=dk, params=params, timeout=30)
    assert export.status_code == 200, export.text
    lines = export.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("查询码,受理时间,渠道") and len(lines) > 10
    assert all(",猛追湾街道," in line for line in lines[1:])
    assert SECRET_NAME not in export.text and SECRET_PHONE not in export.text
    late = httpx.get(url, headers=dk, params={**params, "overdue": "true", "status": "open"}, timeout=30)
    assert all(",是," in line for line in late.content.decode("utf-8-sig").splitlines()[1:])
    book = load_workbook(
        io.BytesIO(httpx.get(f"{base}/api/v1/exports/cases.xlsx", headers=dk, params=params, timeout=30).content)
    )
    assert book["工单明细"].max_row == len(lines) + 1  # a title row, the header, the rows

    # 逆向评价: a street office rates the departments that served it; others may not
    reviews = f"{base}/api/v1/reviews"
    s01 = {"X-API-Key": keys["handler"]["S01"]}
    assert httpx.get(f"{reviews}/form", headers={"X-API-Key": keys["handler"]["CGJ"]}, timeout=10).status_code == 403
    form = httpx.get(f"{reviews}/form", headers=s01, params={"month": month}, timeout=10).json()
    served = [d["department"] for d in form["departments"] if d["served"]]
    assert served and form["street_name"] == "猛追湾街道" and form["editable"]
    stranger = next(c for c in ("RSJ", "MZJ", "WJJ", "JYJ") if c not in served)
    refused = httpx.post(reviews, headers=s01, json={"month": month, "ratings": [{"department": stranger, "score": 3}]})
    assert refused.status_code == 422 and "未承办本街道的工单" in refused.json()["message"]
    assert httpx.post(reviews, headers=s01, content=b"{not json", timeout=10).status_code == 422
    assert httpx.post(reviews, content=b"{not json", timeout=10).status_code == 401
    ok = httpx.post(
        reviews,
        headers=s01,
        json={"month": month, "ratings": [{"department": served[0], "score": 2, "comment": "答复过于简单"}]},
    )
    assert ok.status_code == 200, ok.text
    assert next(d for d in ok.json()["departments"] if d["department"] == served[0])["score"] == 2
    no_street = httpx.post(
        reviews, headers=dk, json={"month": month, "ratings": [{"department": served[0], "score": 5}]}
    )
    assert no_street.status_code == 422
    mine = httpx.get(reviews, headers=s01, params={"month": month}, timeout=10).json()["items"]
    assert [(i["street"], i["department"], i["score"]) for i in mine] == [("S01", served[0], 2)]
    ranked = httpx.get(
        f"{base}/api/v1/measures/ranking", params={"period": "month", "start": history.isoformat()}, timeout=30
    ).json()
    rated = next((i for i in ranked["items"] if i["code"] == served[0]), None)
    if rated is not None:
        assert rated["review"] == {"mean": 2.0, "count": 1} and rated["components"]["review"] == 0.25


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium binary at {CHROMIUM}")
def test_report_and_review_pages_in_chromium(stack: Stack, keys: dict[str, dict[str, str]], history: date) -> None:
    from playwright.sync_api import expect, sync_playwright

    base = stack.url("analytics")
    month = history.strftime("%Y-%m")
    report = httpx.get(f"{base}/api/v1/reports/monthly", params={"month": month}, timeout=30).json()
    SHOTS.mkdir(parents=True, exist_ok=True)
    (REPO / "var" / "screenshots").mkdir(parents=True, exist_ok=True)
    external: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            for width in WIDTHS:
                ctx = browser.new_context(
                    viewport={"width": width, "height": 1000},
                    locale="zh-CN",
                    timezone_id="Asia/Shanghai",
                    accept_downloads=True,
                )
                ctx.on("request", lambda req: external.append(req.url) if not req.url.startswith(base) else None)
                page = ctx.new_page()
                errors: list[str] = []

                def failed(exc: Exception, errors: list[str] = errors) -> None:
                    errors.append(str(exc))

                page.on("pageerror", failed)

                # the monthly report
                page.goto(f"{base}/reports?month={month}")
                expect(page.locator("#title")).to_contain_text(f"{history.year}年{history.month}月工作考核报告")
                expect(page.locator("[data-figure='received']")).to_have_text(str(report["total"]["received"]))
                rate = report["total"]["satisfaction_rate"]
                expect(page.locator("[data-figure='satisfaction_rate']")).to_have_text(f"{rate * 100:.1f}%")
                expect(page.locator("#ranking-table tbody tr")).to_have_count(len(report["departments"]))
                expect(page.locator("#red-list li")).to_have_count(len(report["red"]))
                expect(page.locator("#black-list li")).to_have_count(len(report["black"]))
                expect(page.locator("#trend svg rect")).to_have_count(2 * len(report["trend"]))
                assert page.evaluate("document.documentElement.scrollWidth") <= width, "no sideways scrolling"
                overflow = page.evaluate(
                    "[...document.querySelectorAll('section')].filter(s => s.scrollWidth > s.clientWidth + 1).length"
                )
                assert overflow == 0, "every table fits its card"
                assert page.get_attribute("#xlsx", "href") == f"/api/v1/reports/monthly.xlsx?month={month}"
                html = page.content()
                assert SECRET_NAME not in html and SECRET_PHONE not in html
                page.screenshot(path=str(SHOTS / f"reports-{width}.png"), full_page=True)

                if width == 1280:
                    # the staff export from the page: a wrong key is refused in Chinese, the dispatcher's downloads
                    page.fill("#x-key", keys["handler"]["CGJ"])
                    page.click("#x-csv")
                    expect(page.locator("#x-msg")).to_contain_text("仅限调度员或管理员")
                    page.fill("#x-key", keys["dispatcher"]["ZX"])
                    page.select_option("#x-street", "S02")
                    with page.expect_download() as download:
                        page.click("#x-xlsx")
                    assert download.value.suggested_filename.endswith(".xlsx")
                    saved = download.value.path()
                    assert saved is not None
                    sheet = load_workbook(io.BytesIO(Path(saved).read_bytes()))["工单明细"]
                    assert {row[6] for row in sheet.iter_rows(min_row=3, values_only=True)} <= {"府青路街道"}
                    expect(page.locator("#x-msg")).to_contain_text("已导出")
                    # printable: the controls go, the report stays
                    page.emulate_media(media="print")
                    expect(page.locator("#export")).to_be_hidden()
                    expect(page.locator("header.top")).to_be_hidden()
                    page.screenshot(path=str(SHOTS / "reports-print.png"), full_page=True)
                    page.emulate_media(media="screen")

                # 逆向评价 page
                page.goto(f"{base}/reviews")
                page.fill("#key", "not-a-key")
                page.click("#login-btn")
                expect(page.locator("#login-msg")).to_contain_text("密钥无效")
                page.fill("#key", keys["handler"]["CGJ"])
                page.click("#login-btn")
                expect(page.locator("#login-msg")).to_contain_text("逆向评价由街道进行")
                page.fill("#key", keys["handler"]["S03"])
                page.click("#login-btn")
                expect(page.locator("#who")).to_have_text("二仙桥街道")
                page.select_option("#month", month)
                expect(page.locator("#form-title")).to_contain_text(f"二仙桥街道 · {history.year}年{history.month}月")
                rows = page.locator("#rows tr[data-dept]")
                expect(rows.first).to_be_visible()
                assert rows.count() >= 2
                rows.nth(0).locator("label", has_text="很满意").click()
                rows.nth(0).locator("td.comment input").fill("响应及时，答复具体")
                rows.nth(1).locator("label", has_text=re.compile("^不满意$")).click()
                page.click("#submit")
                expect(page.locator("#form-msg")).to_have_text("已提交 2 个部门的评价。")
                expect(rows.nth(0).locator("td.given")).to_contain_text("很满意（5 分）")
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                page.screenshot(path=str(SHOTS / f"reviews-{width}.png"), full_page=True)
                page.click("#logout")

                # a dispatcher fills in for a street
                page.fill("#key", keys["dispatcher"]["ZX"])
                page.click("#login-btn")
                expect(page.locator("#street-box")).to_be_visible()
                page.select_option("#street", "S05")
                expect(page.locator("#form-title")).to_contain_text("万年场街道")
                page.click("#logout")
                assert not errors, errors
                ctx.close()

            # the ratings reach the report
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.goto(f"{base}/reports?month={month}")
            expect(page.locator("#review-table")).not_to_contain_text("本月尚无街道提交评价")
            page.screenshot(path=str(REPO / "var" / "screenshots" / "reports.png"), full_page=True)
        finally:
            browser.close()
    assert not external, f"the pages must not load anything from elsewhere: {external}"
