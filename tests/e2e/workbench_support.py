"""Helpers for the workbench and page tests: Chromium pages at a given width, cases in known states, API calls."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from tests.e2e.pages_support import file_complaint
from tests.support import REPO, Stack, distinct_spot, wait_until

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = os.environ.get("LINKAGE_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
SHOTS = Path(os.environ.get("LINKAGE_SCREENSHOTS", REPO / "var" / "screenshots"))
WIDTHS = (1280, 1440, 1920)


@contextmanager
def chromium_page(width: int = 1280, height: int = 900) -> Iterator[Page]:
    """A fresh headless Chromium page (Debian's binary; nothing downloaded). Page errors fail the test."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            ctx = browser.new_context(
                viewport={"width": width, "height": height}, locale="zh-CN", timezone_id="Asia/Shanghai"
            )
            page = ctx.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            yield page
        finally:
            browser.close()
    assert not errors, f"script errors in the page: {errors}"


def shot(page: Page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def login(page: Page, url: str, key: str) -> None:
    page.goto(url)
    page.fill("#key", key)
    page.keyboard.press("Enter")
    page.wait_for_selector("#app:not(.hidden)")


def spot_away_from_other_page_tests() -> dict[str, float]:
    """A random point outside 猛追湾街道, where the other page tests file theirs (建设路12号): 并单 takes a case of
    the same grid as a candidate, so this keeps them apart."""
    from services.intake.places import default_places

    index = default_places().index
    while True:
        spot = distinct_spot()
        grid = index.locate(spot["lon"], spot["lat"])
        if grid is not None and grid.street_code != "S01":
            return spot


def new_case(stack: Stack, dispatcher_key: str, matter: str, text: str, **overrides: Any) -> dict[str, Any]:
    """A hotline complaint at a random spot of the district (so no other test's case absorbs it)."""
    spot = spot_away_from_other_page_tests()
    fields: dict[str, Any] = {
        "matter_code": matter,
        "text": text,
        "address": None,
        "lon": spot["lon"],
        "lat": spot["lat"],
        "caller_phone": f"139{uuid.uuid4().int % 10**8:08d}",
        "caller_name": "赵丽",
    }
    fields.update(overrides)
    return file_complaint(stack, dispatcher_key, **fields)


def case(stack: Stack, dispatcher_key: str, case_id: str) -> dict[str, Any]:
    r = httpx.get(
        f"{stack.url('dispatch')}/api/v1/dispatch/cases/{case_id}", headers={"X-API-Key": dispatcher_key}, timeout=10
    )
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def handler_act(stack: Stack, key: str, case_id: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    r = httpx.post(
        f"{stack.url('dispatch')}/api/v1/handler/cases/{case_id}/{path}",
        headers={"X-API-Key": key},
        json=body or {},
        timeout=10,
    )
    assert r.is_success, r.text
    out: dict[str, Any] = r.json()["case"]
    return out


def dispatcher_act(
    stack: Stack, key: str, case_id: str, path: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    r = httpx.post(
        f"{stack.url('dispatch')}/api/v1/dispatch/cases/{case_id}/{path}",
        headers={"X-API-Key": key},
        json=body or {},
        timeout=10,
    )
    assert r.is_success, r.text
    out: dict[str, Any] = r.json()["case"]
    return out


def messages(stack: Stack, tracking_code: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{stack.url('notify')}/dev/messages", params={"tracking_code": tracking_code}, timeout=10)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()
    return items


def wait_message(stack: Stack, tracking_code: str, template: str) -> dict[str, Any]:
    found = wait_until(
        lambda: [m for m in messages(stack, tracking_code) if m["template"] == template],
        message=f"{template} message for {tracking_code}",
    )
    return found[-1]


def pick_row(page: Page, case_id: str, tries: int = 600) -> None:
    """Move the list cursor with J until the case's row is focused (keyboard only), once the list shows it."""
    page.locator(f'#list tr[data-id="{case_id}"]').wait_for(state="attached", timeout=60_000)
    for _ in range(tries):
        page.keyboard.press("j")
        focused = page.evaluate("document.activeElement && document.activeElement.dataset.id")
        if focused == case_id:
            return
    raise AssertionError(f"row {case_id} not reached with J")


def no_horizontal_overflow(page: Page, table: str, card: str) -> dict[str, float]:
    """The table ends inside its card, nothing in the card scrolls sideways, the page fits the window."""
    sizes: dict[str, float] = page.evaluate(
        """([t, c]) => { const table = document.querySelector(t), card = document.querySelector(c);
          const tr = table.getBoundingClientRect(), cr = card.getBoundingClientRect();
          return {tableRight: tr.right, cardRight: cr.right, cardClient: card.clientWidth, cardScroll: card.scrollWidth,
                  boxClient: table.parentElement.clientWidth, boxScroll: table.parentElement.scrollWidth,
                  page: document.documentElement.scrollWidth, window: window.innerWidth}; }""",
        [table, card],
    )
    assert sizes["tableRight"] <= sizes["cardRight"] + 0.5, sizes
    assert sizes["cardScroll"] <= sizes["cardClient"] and sizes["boxScroll"] <= sizes["boxClient"], sizes
    assert sizes["page"] <= sizes["window"], sizes
    return sizes
