"""``linkage demo``: make a running Linkage look lived in.

- ``linkage demo load --rate N --duration S``: a realistic mix of traffic through the real HTTP APIs with the demo
  credentials ``linkage up`` wrote into ``var/linkage-up.json``: complaints from the hotline (operator key), the
  WeChat official account (signed callbacks, text then location), the citizen app, grid workers (some solved on
  the spot, with a photo) and Open311 clients, across categories and grids, with duplicates (并单) and emergencies
  (转 110/119/120/122); and what people then do with them: handlers sign, report progress, return, ask for
  extensions and reply; the center dispatches what lands in triage, approves returns and extensions, urges and
  verifies grid cases; citizens answer the survey through its link (or the center records a phone 回访).
  Only cases this run filed are acted on.
- ``linkage demo history --days D`` (and ``linkage up --demo-history D``): D days of past cases through dispatch's
  demo-only import (admin key; the running system must be in demo mode), so rankings, trends and hot-spot
  baselines have something to show before anyone files a complaint.

Everything here is a client of the public APIs; nothing touches a database.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import random
import re
import secrets
import struct
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from shared.catalog import Matter, default_catalog

SHANGHAI = ZoneInfo("Asia/Shanghai")
CODE = re.compile(r"\b(\d{6}[23456789ABCDEFGHJKLMNPQRSTUVWXYZ]{13})\b")

#: channel → share of the complaints filed (the rest of the mix is decided per complaint)
CHANNEL_MIX: dict[str, float] = {"hotline": 0.42, "wechat": 0.2, "app": 0.15, "grid": 0.13, "open311": 0.1}
#: category → weight (JJ: emergencies, transferred at once; ZX: questions, answered from the knowledge base)
CATEGORY_MIX: dict[str, float] = {
    "CG": 20,
    "SZ": 17,
    "HB": 10,
    "JT": 8,
    "SC": 8,
    "ZF": 8,
    "RS": 4,
    "MZ": 3,
    "WJ": 3,
    "JY": 3,
    "ZA": 3,
    "XF": 3,
    "JF": 3,
    "ZX": 5,
    "JJ": 2,
}
DUPLICATE_SHARE = 0.08
SOLVED_ON_SPOT_SHARE = 0.3  # of grid reports
OPENERS = ("", "", "", "你好，", "我要反映一个问题：", "麻烦管一下，", "您好，我想投诉一下，")
CLOSERS = ("", "", "", "希望尽快处理。", "已经好几天了，一直没人管。", "请相关部门尽快处理，谢谢。", "影响很大。")
REPLIES = (
    "已安排人员到现场处置，问题已解决。",
    "经现场核实，已责令整改并完成整改。",
    "已联系责任单位维修完毕，恢复正常。",
    "已依法查处，并将加强日常巡查。",
    "已与当事人沟通协调，双方达成一致。",
)
RETURN_REASONS = ("该事项不属于本单位职责范围，建议改派", "经核实，地址不在本单位辖区", "该问题由其他部门主管")
SURVEY_MIX = (("1", 0.7), ("2", 0.2), ("3", 0.1))
SURVEY_RESULTS = {"1": "满意", "2": "基本满意", "3": "不满意"}


# ---------------------------------------------------------------------------------------------- the target


@dataclass
class Target:
    """A running Linkage and the demo credentials to drive it (from ``var/linkage-up.json``)."""

    intake: str
    dispatch: str
    notify: str
    analytics: str
    operator_key: str
    dispatcher_key: str
    admin_key: str
    handler_keys: dict[str, str]
    wechat: dict[str, str]
    grid_workers: list[dict[str, Any]]
    open311_key: str

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any]) -> Target:
        services = {k: str(v).rstrip("/") for k, v in manifest["services"].items()}
        demo = manifest.get("demo") or {}
        keys = (demo.get("dispatch") or {}).get("api_keys") or {}
        intake = demo.get("intake") or {}
        operators = (intake.get("api_keys") or {}).get("operator") or {}
        open311 = (intake.get("open311") or {}).get("api_keys") or []
        if not keys or not operators:
            raise ValueError("the manifest has no demo keys: was `linkage up` started with --demo (the default)?")
        return cls(
            intake=services["intake"],
            dispatch=services["dispatch"],
            notify=services["notify"],
            analytics=services["analytics"],
            operator_key=next(iter(operators.values())),
            dispatcher_key=next(iter(keys["dispatcher"].values())),
            admin_key=next(iter(keys["admin"].values())),
            handler_keys=dict(keys.get("handler") or {}),
            wechat=dict(intake.get("wechat") or {}),
            grid_workers=list(intake.get("grid_workers") or []),
            open311_key=str(open311[0]) if open311 else "",
        )


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except OSError:
        raise FileNotFoundError(f"{path} not found: start the system with `make run` (linkage up) first") from None
    return data


# ---------------------------------------------------------------------------------------------- the district


def png(seed: int = 0) -> bytes:
    """A tiny real PNG (a photo stand-in for grid reports solved on the spot)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    width, height = 4, 3
    color = bytes(((seed * 37) % 256, (seed * 91) % 256, 160))
    raw = b"".join(b"\x00" + color * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


@dataclass(frozen=True)
class Spot:
    lon: float
    lat: float
    grid_code: str
    grid_name: str
    community_code: str
    community_name: str
    street_code: str
    street_name: str

    @property
    def address(self) -> str:
        return f"成华区{self.street_name}{self.community_name}"


class Scenery:
    """The demo district and matter catalog, sampled with one random generator (reproducible with a seed)."""

    def __init__(self, rng: random.Random) -> None:
        from services.intake.places import default_places

        self.rng = rng
        self.index = default_places().index
        self.catalog = default_catalog()
        self.grids = self.index.grids()
        # a few busy grids (markets, old compounds) make hot spots; the rest share the remainder
        busy = {g.grid_code for g in rng.sample(self.grids, k=min(8, len(self.grids)))}
        self.grid_weights = [6.0 if g.grid_code in busy else 1.0 for g in self.grids]
        self.by_category: dict[str, list[Matter]] = {}
        for m in self.catalog.matters:
            self.by_category.setdefault(m.category, []).append(m)
        self.categories = [c for c in CATEGORY_MIX if self.by_category.get(c)]
        self.category_weights = [CATEGORY_MIX[c] for c in self.categories]

    def matter(self, category: str | None = None) -> Matter:
        if category is None:
            category = self.rng.choices(self.categories, self.category_weights)[0]
        matters = [m for m in self.by_category[category] if not m.generic] or self.by_category[category]
        return self.rng.choice(matters)

    def spot(self, grid_code: str | None = None) -> Spot:
        grid = self.index.grid(grid_code) if grid_code else None
        if grid is None:
            grid = self.rng.choices(self.grids, self.grid_weights)[0]
        shape = self.index.geometry(grid.grid_code)
        lon, lat = self.index.centroid(grid.grid_code) or (104.1, 30.67)
        if shape is not None:
            min_x, min_y, max_x, max_y = shape.bounds
            for _ in range(20):
                x, y = self.rng.uniform(min_x, max_x), self.rng.uniform(min_y, max_y)
                if self.index.contains(grid.grid_code, x, y):
                    lon, lat = x, y
                    break
        return Spot(
            round(lon, 6),
            round(lat, 6),
            grid.grid_code,
            grid.grid_name,
            grid.community_code,
            grid.community_name,
            grid.street_code,
            grid.street_name,
        )

    def text(self, matter: Matter, spot: Spot | None = None) -> str:
        body = self.rng.choice(matter.examples).rstrip("。") + "。"
        where = f"在{spot.community_name}，" if spot is not None and self.rng.random() < 0.4 else ""
        return f"{self.rng.choice(OPENERS)}{where}{body}{self.rng.choice(CLOSERS)}"

    def kind(self, matter: Matter) -> str:
        if matter.category == "ZX":
            return "咨询"
        if matter.category == "JJ":
            return "求助"
        return self.rng.choices(("投诉", "求助", "举报", "建议"), (6, 3, 1, 0.5))[0]

    def phone(self) -> str:
        return f"1{self.rng.choice('3589')}{self.rng.randrange(10**9):09d}"

    def handlers(self, matter: Matter, street: str | None) -> tuple[str, list[str]] | None:
        try:
            lead, co = self.catalog.resolve_handlers(matter, street)
        except (KeyError, ValueError):
            return None
        return lead.code, [d.code for d in co]

    def other_department(self, not_this: str | None, matter: Matter | None, street: str | None) -> str:
        """Where a returned case goes next: a co-handler of its matter, else another department."""
        if matter is not None:
            found = self.handlers(matter, street)
            if found:
                for code in [found[0], *found[1]]:
                    if code != not_this:
                        return code
        pool = [d.code for d in self.catalog.departments if d.kind == "department" and d.code != not_this]
        return self.rng.choice(pool)


# ---------------------------------------------------------------------------------------------- live load


@dataclass
class LoadReport:
    filed: Counter[str] = field(default_factory=Counter)
    mix: Counter[str] = field(default_factory=Counter)
    actions: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    throttled: int = 0
    errors: list[str] = field(default_factory=list)
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    elapsed_s: float = 0.0

    @property
    def total_filed(self) -> int:
        return sum(self.filed.values())

    def line(self) -> str:
        a = self.actions
        return (
            f"受理 {self.total_filed} · 签收 {a['sign']} · 办结 {a['reply']} · 评价 {a['survey']} · "
            f"退单 {a['return']} · 延期 {a['approve_extension']} · 催办 {a['urge']} · 错误 {len(self.errors)}"
        )


@dataclass
class _Tracked:
    code: str
    channel: str
    matter: str | None
    handled: set[str] = field(default_factory=set)  # what this run already did to the case, by state
    due: dict[str, float] = field(default_factory=dict)  # planned action → when (monotonic)


class LoadRun:
    """One ``linkage demo load`` run against a :class:`Target`."""

    def __init__(self, target: Target, *, rate: float, duration: float, seed: int | None) -> None:
        self.t = target
        self.rate = rate
        self.duration = duration
        self.rng = random.Random(seed)  # noqa: S311 - demo traffic
        self.scenery = Scenery(self.rng)
        self.report = LoadReport()
        self.cases: dict[str, _Tracked] = {}  # tracking code → tracked
        self.recent: list[tuple[Spot, str, Matter]] = []  # for duplicates
        self.surveyed: set[str] = set()
        self.http = httpx.AsyncClient(timeout=20, limits=httpx.Limits(max_connections=32))
        self.workers = self._workers()
        self.stop_filing = False

    # ----------------------------------------------------------------------------- plumbing
    def _workers(self) -> list[dict[str, Any]]:
        """Grid workers with tokens: the manifest's, or every worker of the map when the running system uses the
        public demo grid secret (their tokens are then computable, as the manifest's show)."""
        from services.intake.channels.grid.auth import worker_token
        from shared.settings import Settings

        known = [w for w in self.t.grid_workers if w.get("token") and w.get("grids")]
        secret = Settings().grid_token_secret
        if known and worker_token(secret, str(known[0]["worker_id"])) == known[0]["token"]:
            everyone: dict[str, dict[str, Any]] = {}
            for grid in self.scenery.grids:
                for w in grid.workers:
                    entry = everyone.setdefault(w.id, {"worker_id": w.id, "token": worker_token(secret, w.id)})
                    entry.setdefault("grids", []).append(grid.grid_code)
            return list(everyone.values())
        return known

    def _error(self, what: str, r: httpx.Response | None = None, exc: BaseException | None = None) -> None:
        detail = f"HTTP {r.status_code}: {r.text[:200]}" if r is not None else repr(exc)[:200]
        self.report.errors.append(f"{what}: {detail}")

    async def _call(
        self, what: str, method: str, url: str, *, ok: tuple[int, ...] = (200, 201, 202), **kw: Any
    ) -> httpx.Response | None:
        """One request; 409 (the case moved on) and 404 are skips, 429 is throttling, anything else unexpected is
        an error. Returns the response when its status is in ``ok``."""
        try:
            r = await self.http.request(method, url, **kw)
        except httpx.TransportError as exc:
            if method != "GET":  # a write may have landed: never send it twice
                self._error(what, exc=exc)
                return None
            try:  # a keep-alive connection the server had just closed: a read is safe to repeat once
                r = await self.http.request(method, url, **kw)
            except httpx.HTTPError as again:
                self._error(what, exc=again)
                return None
        except httpx.HTTPError as exc:
            self._error(what, exc=exc)
            return None
        if r.status_code in ok:
            return r
        if r.status_code in (404, 409):
            self.report.skipped[what] += 1
        elif r.status_code == 429:
            self.report.throttled += 1
        else:
            self._error(what, r)
        return None

    def _track(self, code: str | None, channel: str, matter: Matter | None) -> None:
        if code:
            self.cases.setdefault(code, _Tracked(code, channel, matter.code if matter else None))

    # ----------------------------------------------------------------------------- filing
    async def file_one(self) -> None:
        rng = self.rng
        channel = rng.choices(list(CHANNEL_MIX), list(CHANNEL_MIX.values()))[0]
        if channel == "grid" and not self.workers:
            channel = "hotline"
        duplicate = self.recent and rng.random() < DUPLICATE_SHARE
        if duplicate:
            spot, text, matter = rng.choice(self.recent[-30:])
            self.report.mix["duplicate"] += 1
            if channel in ("grid", "open311"):
                channel = "hotline"
        else:
            matter = self.scenery.matter()
            if channel == "grid":
                while matter.category in ("JJ", "ZX"):
                    matter = self.scenery.matter()
            elif channel == "open311" and matter.category == "JJ":
                channel = "hotline"  # emergencies are called in, never filed through Open311
            spot = self.scenery.spot()
            text = self.scenery.text(matter, spot)
            if matter.category not in ("JJ", "ZX"):
                self.recent.append((spot, text, matter))
        if matter.category == "JJ":
            self.report.mix["emergency"] += 1
        filed = await getattr(self, f"_file_{channel}")(matter, spot, text)
        if filed:
            self.report.filed[channel] += 1

    async def _file_hotline(self, matter: Matter, spot: Spot, text: str) -> bool:
        body: dict[str, Any] = {
            "call_id": f"demo-{uuid.uuid4()}",
            "caller_phone": self.scenery.phone(),
            "kind": self.scenery.kind(matter),
            "text": text,
            "address": spot.address,
            "lon": spot.lon,
            "lat": spot.lat,
            "operator_id": "demo-load",
        }
        if self.rng.random() < 0.6 or matter.category == "JJ":
            body["matter_code"] = matter.code  # the operator picks the matter while talking
        r = await self._call(
            "hotline",
            "POST",
            f"{self.t.intake}/api/v1/complaints",
            headers={"X-API-Key": self.t.operator_key},
            json=body,
        )
        if r is not None:
            self._track(r.json().get("tracking_code"), "hotline", matter)
        return r is not None

    async def _file_wechat(self, matter: Matter, spot: Spot, text: str) -> bool:
        from services.intake.places.geo import wgs84_to_gcj02

        account = self.t.wechat
        if not account.get("token"):
            return await self._file_hotline(matter, spot, text)
        openid = f"o-demo-{self.rng.randrange(10**8):08d}"
        r = await self._wechat(account, openid, "text", {"Content": text})
        if r is None:
            return False
        codes = CODE.findall(self._wechat_content(r.text))
        self._track(codes[0] if codes else None, "wechat", matter)
        lon, lat = wgs84_to_gcj02(spot.lon, spot.lat)
        location = {"Location_X": f"{lat:.6f}", "Location_Y": f"{lon:.6f}", "Scale": "16", "Label": spot.address}
        await self._wechat(account, openid, "location", location)
        return True

    async def _wechat(
        self, account: dict[str, str], openid: str, msg_type: str, fields: dict[str, str]
    ) -> httpx.Response | None:
        from xml.sax.saxutils import escape

        msg_id = str(secrets.randbelow(10**17) + 10**17)
        xml = (
            "<xml><ToUserName><![CDATA[gh_linkage_demo]]></ToUserName>"
            f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{int(time.time())}</CreateTime>"
            f"<MsgType><![CDATA[{msg_type}]]></MsgType>"
            + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in fields.items())
            + f"<MsgId>{msg_id}</MsgId></xml>"
        )
        timestamp, nonce = str(int(time.time())), secrets.token_hex(8)
        signature = hashlib.sha1("".join(sorted((account["token"], timestamp, nonce))).encode()).hexdigest()  # noqa: S324 - WeChat's scheme
        params = {"signature": signature, "timestamp": timestamp, "nonce": nonce}
        path = account.get("callback_path") or "/wechat/callback"
        return await self._call("wechat", "POST", f"{self.t.intake}{path}", params=params, content=xml.encode())

    @staticmethod
    def _wechat_content(reply: str) -> str:
        found = re.search(r"<Content><!\[CDATA\[(.*?)\]\]></Content>", reply, re.S)
        return found.group(1) if found else reply

    async def _file_app(self, matter: Matter, spot: Spot, text: str) -> bool:
        body = {
            "client_request_id": str(uuid.uuid4()),
            "type": "complaint",
            "text": text,
            "kind": self.scenery.kind(matter),
            "lon": spot.lon,
            "lat": spot.lat,
            "phone": self.scenery.phone(),
        }
        url = f"{self.t.intake}/api/v1/app/complaints"
        if self.rng.random() < 0.3:  # 随手拍: with a photo, as a form
            form = {k: str(v) for k, v in {**body, "type": "snapshot"}.items()}
            photo = [("photos", ("snap.png", png(self.rng.randrange(1000)), "image/png"))]
            r = await self._call("app", "POST", url, data=form, files=photo)
        else:
            r = await self._call("app", "POST", url, json=body)
        if r is not None:
            self._track(r.json().get("tracking_code"), "app", matter)
        return r is not None

    async def _file_grid(self, matter: Matter, spot: Spot, text: str) -> bool:
        worker = self.rng.choice(self.workers)
        own = self.scenery.spot(self.rng.choice(worker["grids"]))
        solved = self.rng.random() < SOLVED_ON_SPOT_SHARE
        data = {
            "matter_code": matter.code,
            "text": self.scenery.text(matter, own) if not solved else f"{matter.name}，已现场劝导处置完毕。",
            "lon": str(own.lon),
            "lat": str(own.lat),
            "solved_on_spot": "true" if solved else "false",
            "client_request_id": str(uuid.uuid4()),
        }
        files = [("photos", ("spot.png", png(self.rng.randrange(1000)), "image/png"))] if solved else None
        r = await self._call(
            "grid",
            "POST",
            f"{self.t.intake}/api/v1/grid/reports",
            headers={"X-Worker-Token": str(worker["token"])},
            data=data,
            files=files,
        )
        if r is not None:
            if solved:
                self.report.mix["solved_on_spot"] += 1
            else:
                self._track(r.json().get("tracking_code"), "grid", matter)
        return r is not None

    async def _file_open311(self, matter: Matter, spot: Spot, text: str) -> bool:
        if not self.t.open311_key:
            return await self._file_app(matter, spot, text)
        form = {
            "api_key": self.t.open311_key,
            "service_code": matter.code,
            "description": text,
            "lat": str(spot.lat),
            "long": str(spot.lon),
            "address_string": spot.address,
            "phone": self.scenery.phone(),
        }
        r = await self._call("open311", "POST", f"{self.t.intake}/open311/v2/requests.json", data=form)
        if r is not None:
            entries = r.json()
            self._track(entries[0].get("service_request_id") if entries else None, "open311", matter)
        return r is not None

    async def filing_loop(self) -> None:
        start = time.monotonic()
        next_at = start
        pending: set[asyncio.Task[None]] = set()
        while time.monotonic() - start < self.duration and not self.stop_filing:
            next_at += self.rng.expovariate(self.rate)
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            task = asyncio.create_task(self.file_one())
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    # ----------------------------------------------------------------------------- people acting on cases
    def _due(self, tracked: _Tracked, action: str, low: float, high: float) -> bool:
        """True once the planned moment for ``action`` has come (planned on first sight)."""
        now = time.monotonic()
        at = tracked.due.setdefault(action, now + self.rng.uniform(low, high))
        return now >= at

    async def _list(self, state: str) -> list[dict[str, Any]]:
        r = await self._call(
            "list",
            "GET",
            f"{self.t.dispatch}/api/v1/dispatch/cases",
            headers=self._dispatcher,
            params={"state": state, "limit": 200},
        )
        items: list[dict[str, Any]] = r.json().get("items", []) if r is not None else []
        return [c for c in items if c.get("tracking_code") in self.cases]

    @property
    def _dispatcher(self) -> dict[str, str]:
        return {"X-API-Key": self.t.dispatcher_key}

    def _handler(self, lead: str | None) -> dict[str, str] | None:
        key = self.t.handler_keys.get(lead or "")
        return {"X-API-Key": key} if key else None

    async def _act(self, action: str, path: str, headers: dict[str, str], body: dict[str, Any] | None = None) -> bool:
        url = f"{self.t.dispatch}{path}"
        r = await self._call(action, "POST", url, headers=headers, json=body or {})
        if r is not None:
            self.report.actions[action] += 1
        return r is not None

    async def act_once(self) -> None:
        """One look at this run's cases in every state that waits for someone, and what is due is done."""
        lists = await asyncio.gather(
            *(self._list(s) for s in ("triage", "dispatched", "returned", "signed", "replied", "verified"))
        )
        work = []
        for case in [c for found in lists for c in found]:
            tracked = self.cases[case["tracking_code"]]
            work.append(self._step(case, tracked))
        await asyncio.gather(*work)

    async def _step(self, case: dict[str, Any], tracked: _Tracked) -> None:
        state, cid, rng = case["state"], case["id"], self.rng
        dpath, hpath = f"/api/v1/dispatch/cases/{cid}", f"/api/v1/handler/cases/{cid}"
        key = f"{state}:{case.get('lead')}:{case.get('reopen_count', 0)}:{case.get('extension_status')}"
        if key in tracked.handled:
            return
        handler = self._handler(case.get("lead"))
        if state == "triage" and self._due(tracked, key, 1, 5):
            tracked.handled.add(key)
            await self._dispatch_triaged(case, dpath)
        elif state == "dispatched" and handler and self._due(tracked, key, 1, 6):
            tracked.handled.add(key)
            if rng.random() < 0.05 and "returned" not in tracked.handled:
                tracked.handled.add("returned")
                await self._act("return", f"{hpath}/return", handler, {"reason": rng.choice(RETURN_REASONS)})
            else:
                await self._act("sign", f"{hpath}/sign", handler)
        elif state == "returned" and self._due(tracked, key, 1, 4):
            tracked.handled.add(key)
            if await self._act("approve_return", f"{dpath}/approve-return", self._dispatcher, {"reason": "同意退单"}):
                matter = self.scenery.catalog.get_matter(case.get("matter_code") or "")
                lead = self.scenery.other_department(case.get("lead"), matter, case.get("street_code"))
                body = {"lead": lead, "reason": "退单审核后改派"}
                if matter is not None:
                    body["matter_code"] = matter.code
                await self._act("reassign", f"{dpath}/dispatch", self._dispatcher, body)
        elif state == "signed" and handler:
            await self._signed(case, tracked, key, handler, dpath, hpath)
        elif state == "replied" and case.get("channel") == "grid" and self._due(tracked, key, 1, 4):
            tracked.handled.add(key)
            await self._act(
                "verify", f"{dpath}/verify", self._dispatcher, {"passed": True, "note": "网格员现场核查通过"}
            )
        elif state == "verified" and self._due(tracked, key, 1, 3):
            tracked.handled.add(key)
            await self._act("close", f"{dpath}/close", self._dispatcher, {"reason": "核查通过，结案"})

    async def _signed(
        self, case: dict[str, Any], tracked: _Tracked, key: str, handler: dict[str, str], dpath: str, hpath: str
    ) -> None:
        rng = self.rng
        if case.get("extension_status") == "requested":
            if self._due(tracked, key, 1, 4):
                tracked.handled.add(key)
                await self._act("approve_extension", f"{dpath}/approve-extension", self._dispatcher)
            return
        if "extras" not in tracked.handled:
            tracked.handled.add("extras")
            roll = rng.random()
            if roll < 0.08 and case.get("extension_status") is None:
                await self._act(
                    "request_extension", f"{hpath}/extension", handler, {"days": 3, "reason": "需协调多个部门"}
                )
                return
            if roll < 0.13:
                await self._act("urge", f"{dpath}/urge", self._dispatcher, {"reason": "群众反映强烈，请加快办理"})
            elif roll < 0.25:
                await self._act("progress", f"{hpath}/progress", handler, {"note": "已安排人员到现场核实"})
        if self._due(tracked, key, 3, 12):
            tracked.handled.add(key)
            await self._act("reply", f"{hpath}/reply", handler, {"text": rng.choice(REPLIES)})

    async def _dispatch_triaged(self, case: dict[str, Any], dpath: str) -> None:
        catalog = self.scenery.catalog
        matter = catalog.get_matter(case.get("matter_code") or "")
        if matter is None and case.get("category"):
            matter = next((m for m in catalog.matters if m.category == case["category"] and not m.is_emergency), None)
        if matter is None or matter.is_emergency:
            matter = self.scenery.matter("CG")
        found = self.scenery.handlers(matter, case.get("street_code"))
        if found is None:  # 属地 without a street: the first street takes it
            found = self.scenery.handlers(matter, catalog.streets()[0].code)
        if found is None:
            return
        lead, co = found
        body = {"lead": lead, "co_handlers": co, "matter_code": matter.code, "reason": "人工派单"}
        await self._act("dispatch", f"{dpath}/dispatch", self._dispatcher, body)

    async def survey_once(self) -> None:
        """Citizens answer the survey link in their 办结 message (the center records a phone 回访 when the survey
        endpoint throttles this machine)."""
        r = await self._call("messages", "GET", f"{self.t.notify}/dev/messages", params={"limit": 300})
        if r is None:
            return
        for message in r.json():
            code = message.get("tracking_code")
            if message.get("template") != "replied" or code not in self.cases or message["id"] in self.surveyed:
                continue
            tracked = self.cases[code]
            if not self._due(tracked, f"survey:{message['id']}", 1, 5):
                continue
            self.surveyed.add(message["id"])
            answer = self.rng.choices([a for a, _ in SURVEY_MIX], [w for _, w in SURVEY_MIX])[0]
            token = (
                message["body"].split("/survey/", 1)[1].split()[0].rstrip("。，")
                if "/survey/" in message["body"]
                else None
            )
            if token:
                before = self.report.throttled
                done = await self._call(
                    "survey",
                    "POST",
                    f"{self.t.notify}/api/v1/surveys/answers",
                    json={"token": token, "answer": answer, "channel": "sms"},
                )
                if done is not None:
                    self.report.actions["survey"] += 1
                    continue
                if self.report.throttled == before:
                    continue
            await self._phone_survey(code, SURVEY_RESULTS[answer])

    async def _phone_survey(self, code: str, result: str) -> None:
        r = await self._call(
            "list",
            "GET",
            f"{self.t.dispatch}/api/v1/dispatch/cases",
            headers=self._dispatcher,
            params={"tracking_code": code},
        )
        items = r.json().get("items", []) if r is not None else []
        if items and items[0]["state"] == "replied":
            path = f"/api/v1/dispatch/cases/{items[0]['id']}/survey"
            if await self._act("phone_survey", path, self._dispatcher, {"result": result, "comment": "电话回访"}):
                self.report.actions["survey"] += 1

    async def people_loop(self, until: Callable[[], bool]) -> None:
        while not until():
            started = time.monotonic()
            await asyncio.gather(self.act_once(), self.survey_once())
            await asyncio.sleep(max(0.2, 1.0 - (time.monotonic() - started)))

    # ----------------------------------------------------------------------------- the run
    async def summary(self) -> dict[str, Any]:
        r = await self._call("summary", "GET", f"{self.t.analytics}/api/v1/stats/overview")
        return dict(r.json()) if r is not None else {}

    async def run(self, progress: Progress | None = None, drain_s: float = 10.0) -> LoadReport:
        self.report.before = await self.summary()
        started = time.monotonic()
        filing = asyncio.create_task(self.filing_loop())
        finished = {"at": None}

        def done() -> bool:
            at = finished["at"]
            return at is not None and time.monotonic() - at >= drain_s

        people = asyncio.create_task(self.people_loop(done))
        task = progress.add_task("演示流量", total=self.duration, stats=self.report.line()) if progress else None
        try:
            while not filing.done():
                await asyncio.sleep(0.5)
                if progress is not None and task is not None:
                    progress.update(
                        task, completed=min(time.monotonic() - started, self.duration), stats=self.report.line()
                    )
            await filing
            finished["at"] = time.monotonic()  # type: ignore[assignment]
            if progress is not None and task is not None:
                progress.update(task, description="处理收尾", completed=self.duration)
            while not people.done():
                await asyncio.sleep(0.5)
                if progress is not None and task is not None:
                    progress.update(task, stats=self.report.line())
            await people
        finally:
            for t in (filing, people):
                t.cancel()
            await asyncio.gather(filing, people, return_exceptions=True)
            self.report.elapsed_s = time.monotonic() - started
            with contextlib.suppress(Exception):
                await asyncio.sleep(1.0)
                self.report.after = await self.summary()
            await self.http.aclose()
        return self.report


async def run_load(
    target: Target,
    *,
    rate: float,
    duration: float,
    seed: int | None = None,
    drain_s: float = 10.0,
    console: Console | None = None,
) -> LoadReport:
    """Drive ``target`` for ``duration`` seconds at ``rate`` complaints per second (plus what people do with them,
    for ``drain_s`` more seconds). With a console, a progress bar shows the counts as they move."""
    runner = LoadRun(target, rate=rate, duration=duration, seed=seed)
    if console is None:
        return await runner.run(drain_s=drain_s)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[stats]}"),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        return await runner.run(bar, drain_s=drain_s)


def print_report(report: LoadReport, console: Console) -> None:
    table = Table(title=f"linkage demo load：{report.elapsed_s:.0f} 秒")
    table.add_column("项目")
    table.add_column("数量", justify="right")
    names = {
        "hotline": "12345热线",
        "wechat": "微信公众号",
        "app": "手机客户端",
        "grid": "网格员上报",
        "open311": "Open311",
    }
    for channel, n in report.filed.most_common():
        table.add_row(f"受理 · {names.get(channel, channel)}", str(n))
    labels = {
        "duplicate": "其中重复诉求（并单）",
        "emergency": "其中紧急警情（转交）",
        "solved_on_spot": "其中网格员现场解决",
    }
    for what, n in report.mix.most_common():
        table.add_row(labels.get(what, what), str(n))
    action_names = {
        "sign": "签收",
        "return": "退单",
        "approve_return": "同意退单",
        "reassign": "改派",
        "dispatch": "人工派单",
        "progress": "反馈进展",
        "request_extension": "申请延期",
        "approve_extension": "批准延期",
        "urge": "催办",
        "reply": "办结",
        "verify": "核查",
        "close": "结案",
        "survey": "回访评价",
        "phone_survey": "其中电话回访",
    }
    for action, n in report.actions.most_common():
        table.add_row(action_names.get(action, action), str(n))
    if report.throttled:
        table.add_row("被限流（429，已改用其他方式）", str(report.throttled))
    table.add_row("错误", str(len(report.errors)))
    console.print(table)
    before, after = report.before, report.after
    if before and after:
        console.print(
            f"指挥中心今日受理 {before.get('volume', 0)} → {after.get('volume', 0)}，"
            f"结案 {before.get('closed', 0)} → {after.get('closed', 0)}，在办 {after.get('open', 0)}"
        )
    for line in report.errors[:10]:
        console.print(f"[red]{line}[/red]")


# ---------------------------------------------------------------------------------------------- history


HOURLY = [
    0.2,
    0.1,
    0.1,
    0.1,
    0.1,
    0.3,
    0.8,
    2.0,
    4.5,
    6.5,
    6.5,
    5.5,
    3.5,
    4.0,
    5.5,
    6.0,
    5.5,
    4.5,
    3.5,
    3.0,
    2.5,
    1.8,
    1.0,
    0.5,
]


def _working_time(at: datetime, hours: float, rng: random.Random) -> datetime:
    """Roughly ``hours`` of office time after ``at`` (evenings and weekends skipped), as people really act."""
    local = at.astimezone(SHANGHAI)
    remaining = hours
    while remaining > 0:
        if local.weekday() >= 5 or local.hour >= 18:
            local = (local + timedelta(days=1)).replace(hour=8, minute=rng.randrange(30, 60))
            continue
        if local.hour < 8:
            local = local.replace(hour=8, minute=rng.randrange(30, 60))
            continue
        step = min(remaining, 18 - local.hour - local.minute / 60)
        local += timedelta(hours=step)
        remaining -= step
    return local.astimezone(UTC)


def history_cases(days: int, *, now: datetime | None = None, seed: int | None = None) -> list[dict[str, Any]]:
    """``days`` days of past cases (up to ten minutes ago) with what happened to them, as the dispatch demo import
    takes them: most signed, replied and rated; some returned and reassigned, extended, unsatisfied and reopened,
    answered late or still open (some overdue); emergencies transferred; grid reports solved on the spot."""
    now = now or datetime.now(UTC)
    rng = random.Random(seed)  # noqa: S311 - demo data
    scenery = Scenery(rng)
    out: list[dict[str, Any]] = []
    first = (now - timedelta(days=days)).astimezone(SHANGHAI)
    day = first.replace(hour=0, minute=0, second=0, microsecond=0)
    latest = now - timedelta(minutes=10)
    recent: list[dict[str, Any]] = []
    while day <= latest.astimezone(SHANGHAI):
        volume = rng.randint(45, 70) if day.weekday() >= 5 else rng.randint(70, 110)
        for _ in range(volume):
            hour = rng.choices(range(24), HOURLY)[0]
            at = (day + timedelta(hours=hour, minutes=rng.random() * 60)).astimezone(UTC)
            if at < first or at > latest:
                continue
            twin = rng.choice(recent[-20:]) if recent and rng.random() < 0.05 else None
            if twin is not None and datetime.fromisoformat(twin["received_at"]) < at:
                # the same problem again from someone else: dispatch merges it into the first case (并单)
                out.append({"complaint": {**twin, "channel": "hotline", "received_at": at.isoformat()}, "steps": []})
                continue
            case = _history_case(scenery, rng, at, latest)
            out.append(case)
            if case["complaint"]["channel"] != "grid" and not case["complaint"].get("emergency_service"):
                recent.append(case["complaint"])
        day += timedelta(days=1)
    return sorted(out, key=lambda c: c["complaint"]["received_at"])


def _history_case(scenery: Scenery, rng: random.Random, at: datetime, latest: datetime) -> dict[str, Any]:
    channel = rng.choices(list(CHANNEL_MIX), list(CHANNEL_MIX.values()))[0]
    matter = scenery.matter()
    if channel == "grid":
        while matter.category in ("JJ", "ZX"):
            matter = scenery.matter()
    spot = scenery.spot()
    complaint: dict[str, Any] = {
        "channel": "hotline" if matter.category == "JJ" else channel,
        "kind": scenery.kind(matter),
        "text": scenery.text(matter, spot),
        "address": spot.address,
        "lon": spot.lon,
        "lat": spot.lat,
        "street_code": spot.street_code,
        "community_code": spot.community_code,
        "grid_code": spot.grid_code,
        "matter_code": matter.code,
        "received_at": at.isoformat(),
    }
    if matter.emergency_service:
        complaint["emergency_service"] = matter.emergency_service
        return {"complaint": complaint, "steps": []}
    if matter.category == "ZX":
        return {"complaint": complaint, "steps": []}  # answered from the knowledge base and closed at once
    if channel == "grid" and rng.random() < SOLVED_ON_SPOT_SHARE:
        complaint["solved_on_spot"] = True
        complaint["text"] = f"{matter.name}，已现场劝导处置完毕。"
        return {"complaint": complaint, "steps": []}
    steps: list[dict[str, Any]] = []
    clock = at

    def step(action: str, hours: float, **extra: Any) -> bool:
        nonlocal clock
        when = _working_time(clock, hours, rng)
        if when > latest:
            return False
        clock = when
        steps.append({"action": action, "at": when.isoformat(), **extra})
        return True

    lead = scenery.handlers(matter, spot.street_code)
    if not step("sign", rng.uniform(0.2, 3.0)):
        return {"complaint": complaint, "steps": steps}
    if rng.random() < 0.06 and lead is not None:
        other = scenery.other_department(lead[0], matter, spot.street_code)
        ok = (
            step("return", rng.uniform(0.5, 4), reason=rng.choice(RETURN_REASONS))
            and step("approve_return", rng.uniform(0.5, 3))
            and step("reassign", rng.uniform(0.2, 2), lead=other)
            and step("sign", rng.uniform(0.2, 2))
        )
        if not ok:
            return {"complaint": complaint, "steps": steps}
    if rng.random() < 0.3 and not step("progress", rng.uniform(2, 12), text="已安排人员到现场核实"):
        return {"complaint": complaint, "steps": steps}
    if rng.random() < 0.08 and not (
        step("request_extension", rng.uniform(4, 20), days=3, reason="需协调多个部门")
        and step("approve_extension", rng.uniform(1, 6))
    ):
        return {"complaint": complaint, "steps": steps}
    if rng.random() < 0.06 and not step("urge", rng.uniform(8, 30), reason="群众反映强烈，请加快办理"):
        return {"complaint": complaint, "steps": steps}
    late = rng.random() < 0.1
    if not step("reply", rng.uniform(42, 72) if late else rng.uniform(2, 20), text=rng.choice(REPLIES)):
        return {"complaint": complaint, "steps": steps}
    if complaint["channel"] == "grid":
        if step("verify", rng.uniform(2, 10), passed=True):
            step("close", rng.uniform(0.1, 1))
        return {"complaint": complaint, "steps": steps}
    result = rng.choices(["满意", "基本满意", "不满意", "未评价"], [64, 20, 8, 8])[0]
    if not step("survey", rng.uniform(2, 10), result=result):
        return {"complaint": complaint, "steps": steps}
    if result == "不满意" and step("reply", rng.uniform(8, 30), text="已再次到现场处置，问题彻底解决。"):
        step("survey", rng.uniform(4, 16), result=rng.choice(["满意", "基本满意"]))
    return {"complaint": complaint, "steps": steps}


def _chunks(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def preload_history(
    target: Target,
    days: int,
    *,
    console: Console | None = None,
    seed: int | None = None,
    batch: int = 40,
) -> dict[str, Any]:
    """Send ``days`` days of history to dispatch's demo import; returns the totals. Raises RuntimeError when the
    import refuses (not demo mode, not an admin key)."""
    cases = history_cases(days, seed=seed)
    totals: Counter[str] = Counter()
    states: Counter[str] = Counter()
    headers = {"X-API-Key": target.admin_key}
    url = f"{target.dispatch}/api/v1/dispatch/demo/history"
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} 件"))
    progress = Progress(*columns, TimeElapsedColumn(), console=console, disable=console is None)
    with httpx.Client(timeout=300) as http, progress:
        task = progress.add_task(f"预置 {days} 天历史工单", total=len(cases))
        for chunk in _chunks(cases, batch):
            r = http.post(url, headers=headers, json={"cases": chunk})
            if r.status_code != 200:
                raise RuntimeError(f"the demo history import refused: HTTP {r.status_code} {r.text[:300]}")
            body = r.json()
            totals.update(cases=body["cases"], steps=body["steps"], stopped=body["stopped"])
            states.update(body.get("states") or {})
            progress.advance(task, len(chunk))
    return {**totals, "states": dict(states), "days": days}


# ---------------------------------------------------------------------------------------------- CLI

app = typer.Typer(help="Demo traffic and history for a running Linkage (linkage up).", no_args_is_help=True)
ManifestOpt = Annotated[
    Path | None,
    typer.Option(
        "--manifest", help="The running system's manifest (default: $LINKAGE_VAR_DIR or var, /linkage-up.json)."
    ),
]


def _manifest_path(given: Path | None) -> Path:
    """The manifest of the system `linkage up` runs, found the way the admin commands find it."""
    return given or Path(os.environ.get("LINKAGE_VAR_DIR", "var")) / "linkage-up.json"


@app.command()
def load(
    rate: Annotated[float, typer.Option(min=0.05, max=200.0, help="Complaints per second (all channels).")] = 2.0,
    duration: Annotated[float, typer.Option(min=1.0, max=86_400.0, help="Seconds of filing.")] = 60.0,
    drain: Annotated[float, typer.Option(min=0.0, max=600.0, help="Seconds more for people to act on them.")] = 15.0,
    seed: Annotated[int | None, typer.Option(help="Random seed (same seed, same mix).")] = None,
    manifest: ManifestOpt = None,
) -> None:
    """A realistic mix of complaints and of what handlers, dispatchers and citizens do with them."""
    console = Console()
    try:
        target = Target.from_manifest(read_manifest(_manifest_path(manifest)))
    except (FileNotFoundError, ValueError, KeyError) as exc:
        console.print(f"[red]linkage demo load: {exc}[/red]")
        raise typer.Exit(2) from None
    console.print(
        f"演示流量：每秒 {rate:g} 件，持续 {duration:g} 秒 → {target.intake} …（指挥大屏 {target.analytics}/display）"
    )
    report = asyncio.run(run_load(target, rate=rate, duration=duration, seed=seed, drain_s=drain, console=console))
    print_report(report, console)
    raise typer.Exit(1 if report.errors else 0)


@app.command()
def history(
    days: Annotated[int, typer.Option(min=1, max=90, help="Days of history before now.")] = 7,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    manifest: ManifestOpt = None,
) -> None:
    """D days of past cases through dispatch's demo-only import (the system must run in demo mode)."""
    console = Console()
    try:
        target = Target.from_manifest(read_manifest(_manifest_path(manifest)))
        totals = preload_history(target, days, console=console, seed=seed)
    except (FileNotFoundError, ValueError, KeyError, RuntimeError, httpx.HTTPError) as exc:
        console.print(f"[red]linkage demo history: {exc}[/red]")
        raise typer.Exit(1) from None
    console.print(f"已预置 {totals['cases']} 件历史工单（{days} 天，{totals['steps']} 个办理步骤）")
