"""The authorization matrix: every operation of every running service × every kind of caller.

:func:`run_matrix` reads ``/openapi.json`` of each service and checks, for every operation:

* **declaration** — it declares ``security`` or says it is public (``x-linkage-access``, see
  :mod:`shared.access`); a public operation must also be in :data:`PUBLIC` with its reason, so a new
  public endpoint fails the matrix until someone decides it may be public;
* **no credential / a garbage credential** (dummy path parameters, a body that is not JSON) → a JSON 401
  (not 422, not 5xx) for every secured operation, one garbage value per declared scheme; a public operation
  called that way never answers 5xx, and a public POST never 2xx;
* **role × endpoint** — a handler key on dispatcher and intake operator endpoints → 403, a dispatcher or admin
  key on handler endpoints → 403, an intake operator key on dispatch and notify → 401, an operator key as a grid
  token → 401, a grid token forged for another worker → 401, a handler key on the delivery log → 403;
* **another department's case** (a real case led by department A) — department B's handler reading or acting on
  it → 403 without a word of its text, B's inbox does not list it, B's key on intake's complaint detail and
  caller history → 403, and the citizen lookup without the secret → 404 without the text;
* **positive controls** — every key used is accepted where it belongs (or the refusals would prove nothing).

:func:`provision` creates the keys (fresh random ones, revoked again by :func:`retire`) and the case.
``tests/e2e/test_authorization_matrix.py`` and ``linkage chaos`` ("credentials matrix") run it.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from shared.access import ACCESS_KEY
from shared.settings import Settings

# (service, METHOD, path) → why anyone may call it. A public operation missing here fails the matrix.
PUBLIC: dict[tuple[str, str, str], str] = {
    **{
        (svc, "GET", probe): "liveness/readiness probe"
        for svc in ("intake", "dispatch", "notify", "analytics")
        for probe in ("/healthz", "/readyz")
    },
    ("intake", "GET", "/open311/v2/discovery.{fmt}"): "Open311 discovery document",
    ("intake", "GET", "/open311/v2/services.{fmt}"): "Open311 service list (the catalog)",
    ("intake", "GET", "/open311/v2/services/{code}.{fmt}"): "Open311 service definition",
    ("intake", "GET", "/open311/v2/requests.{fmt}"): "Open311 requests: redacted, paginated, rate-limited",
    ("intake", "GET", "/open311/v2/requests/{request_id}.{fmt}"): "one Open311 request: redacted, rate-limited",
    ("intake", "GET", "/open311/v2/tokens/{token}.{fmt}"): "Open311 token → request id, rate-limited",
    ("intake", "POST", "/open311/v2/requests.{fmt}"): "Open311 filing: api_key in the form",
    ("intake", "GET", "/wechat/callback"): "WeChat URL verification: signature + timestamp window",
    ("intake", "POST", "/wechat/callback"): "WeChat callback: signature, timestamp window, single-use nonce",
    ("intake", "POST", "/api/v1/app/complaints"): "a citizen files through the app; rate-limited",
    ("intake", "GET", "/api/v1/app/complaints/{tracking_code}"): "citizen lookup: tracking code + secret",
    ("intake", "GET", "/api/v1/blobs/{digest}"): "photo by its sha256 digest",
    ("dispatch", "GET", "/api/v1/track/{code}"): "public tracking: redacted history, rate-limited",
    ("dispatch", "GET", "/api/v1/cases"): "case status by complaint ids/tracking code: no personal data",
    ("dispatch", "GET", "/api/v1/cases/{case_id}"): "case status: no personal data, rate-limited",
    ("notify", "GET", "/api/v1/surveys/{token}"): "survey round behind a single-use token",
    ("notify", "POST", "/api/v1/surveys/{token}"): "survey answer with the single-use token",
    ("notify", "GET", "/survey/{token}"): "survey page behind a single-use token",
    ("notify", "GET", "/dev/messages"): "development sink: 404 unless LINKAGE_DEV_SINK_ENABLED",
    ("analytics", "GET", "/api/v1/stats/summary"): "aggregate counts",
    ("analytics", "GET", "/api/v1/stats/overview"): "aggregate counts",
    ("analytics", "GET", "/api/v1/stats/hotspots"): "aggregate counts",
    ("analytics", "GET", "/api/v1/stats/departments"): "aggregate counts",
    ("analytics", "GET", "/api/v1/stats/events"): "anonymised ticker",
    ("analytics", "GET", "/api/v1/open-data/cases.csv"): "open data: aggregates",
    ("analytics", "GET", "/api/v1/display/snapshot"): "wall screen: aggregates, masked case numbers",
    ("analytics", "GET", "/api/v1/display/stream"): "wall screen SSE: the same snapshot (406 unless text/event-stream)",
    ("analytics", "GET", "/api/v1/hotspots"): "未诉先办 hot spots: aggregates per grid and category",
    **{
        ("analytics", "GET", path): "measures, ranking, 红黑榜, monthly report: aggregates"
        for path in (
            "/api/v1/measures",
            "/api/v1/measures/ranking",
            "/api/v1/measures/red-black",
            "/api/v1/measures/trend",
            "/api/v1/reports/monthly",
            "/api/v1/reports/monthly.csv",
            "/api/v1/reports/monthly.xlsx",
        )
    },
    ("analytics", "GET", "/api/v1/measures/config"): "the weights and thresholds in force (configuration)",
}
DEV_ONLY = {"/dev/messages"}  # the development sink shows what was sent (off in production)
SUPERVISOR_ONLY = {("intake", "GET", "/api/v1/operators")}
SKIP_PREFIXES = ("/metrics", "/docs", "/redoc", "/openapi.json")
METHODS = ("get", "post", "put", "patch", "delete")
DUMMY = "01JAUTHZ000000000000000000"
GARBAGE_BODY = b"{not json"


@dataclass
class CaseRef:
    """A real case led by ``lead``; ``tag`` and ``phone`` appear in its text and must not leak."""

    id: str
    complaint_id: str
    tracking_code: str
    lead: str
    phone: str
    tag: str


@dataclass
class Credentials:
    operator: str  # an intake operator X-API-Key
    dispatcher: str
    admin: str
    handlers: dict[str, str]  # department → handler key; the case's lead and at least one other
    grid_token: str  # worker A's X-Worker-Token
    grid_other_worker: str  # another worker's id (a token forged for them must fail)
    case: CaseRef | None = None
    operator_username: str = ""

    @property
    def own(self) -> str:
        """The handler key of the case's lead department."""
        assert self.case is not None
        return self.handlers[self.case.lead]

    @property
    def foreign(self) -> tuple[str, str]:
        """(department, key) of a handler department that has nothing to do with the case."""
        lead = self.case.lead if self.case else ""
        return next((d, k) for d, k in sorted(self.handlers.items()) if d != lead)


@dataclass
class Check:
    service: str
    method: str
    path: str
    who: str
    expected: str
    got: str
    ok: bool
    note: str = ""

    def __str__(self) -> str:
        verdict = "ok" if self.ok else "FAIL"
        return (
            f"{verdict}: {self.service} {self.method} {self.path} [{self.who}] expected {self.expected}, "
            f"got {self.got}{' — ' + self.note if self.note else ''}"
        )


# ------------------------------------------------------------------------------------------------ keys, case
def _run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _create_operator(settings: Settings) -> tuple[str, str]:
    from services.intake.operators import service as operators
    from shared.db import make_engine, make_sessionmaker

    engine = make_engine(settings, "intake", pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            username = f"authz-{uuid.uuid4().hex[:8]}"
            _, key = await operators.create(
                session, username=username, role="operator", display_name="授权矩阵测试", password=None
            )
            await session.commit()
            return username, key
    finally:
        await engine.dispose()


def _handler_departments() -> list[str]:
    from services.dispatch.seeds.demo import HANDLER_KINDS
    from shared.catalog import default_catalog

    return [d.code for d in default_catalog().departments if d.kind in HANDLER_KINDS]


def provision(settings: Settings, urls: dict[str, str], *, with_case: bool = True) -> Credentials:
    """Fresh keys of every role (labelled ``linkage authz``), grid tokens, and a real case led by a department
    that has its own handler key (filed through intake, opened by dispatch)."""
    from services.dispatch.auth.service import create_key
    from services.intake.seeds.channels import demo_workers
    from shared.catalog import default_catalog

    center = default_catalog().center().code
    label = "linkage authz"
    departments = _handler_departments()
    username, operator = _run(_create_operator(settings))
    workers = demo_workers(settings, 2)
    creds = Credentials(
        operator=operator,
        operator_username=username,
        dispatcher=_run(create_key(settings, role="dispatcher", department=center, label=label)),
        admin=_run(create_key(settings, role="admin", department=center, label=label)),
        handlers={d: _run(create_key(settings, role="handler", department=d, label=label)) for d in departments[:2]},
        grid_token=workers[0]["token"],
        grid_other_worker=workers[1]["worker_id"],
    )
    if with_case:
        creds.case = open_case(urls, creds, fallback_lead=departments[0])
        if creds.case.lead not in creds.handlers:
            creds.handlers[creds.case.lead] = _run(
                create_key(settings, role="handler", department=creds.case.lead, label=label)
            )
    return creds


def retire(settings: Settings, creds: Credentials) -> None:
    """Revoke the keys :func:`provision` made and disable its operator account."""
    from services.dispatch.auth.service import hash_key
    from services.intake.operators import service as operators
    from shared.db import make_engine, make_sessionmaker

    async def run() -> None:
        engine = make_engine(settings, "dispatch", pool_size=1)
        try:
            async with engine.begin() as conn:
                from sqlalchemy import text

                hashes = [hash_key(k) for k in (creds.dispatcher, creds.admin, *creds.handlers.values())]
                await conn.execute(
                    text("UPDATE api_keys SET revoked_at = now() WHERE key_hash = ANY(:h) AND revoked_at IS NULL"),
                    {"h": hashes},
                )
        finally:
            await engine.dispose()
        if creds.operator_username:
            engine = make_engine(settings, "intake", pool_size=1)
            try:
                async with make_sessionmaker(engine)() as session:
                    await operators.set_disabled(session, creds.operator_username, True)
                    await session.commit()
            finally:
                await engine.dispose()

    _run(run())


@contextmanager
def provisioned(settings: Settings, urls: dict[str, str], *, with_case: bool = True) -> Iterator[Credentials]:
    creds = provision(settings, urls, with_case=with_case)
    try:
        yield creds
    finally:
        retire(settings, creds)


def _wait(predicate: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.3)
    raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what} (last: {last!r})")


def file_hotline(urls: dict[str, str], operator_key: str, text: str, phone: str) -> dict[str, Any]:
    """File a hotline complaint at a random point of the district, so 并单 (200 m) never merges it into another
    probe's complaint with the same wording."""
    import random

    from services.intake.places import default_places

    lon, lat = default_places().index.random_point(random.SystemRandom())
    r = httpx.post(
        f"{urls['intake']}/api/v1/complaints",
        headers={"X-API-Key": operator_key},
        json={
            "call_id": f"authz-{uuid.uuid4()}",
            "caller_phone": phone,
            "kind": "投诉",
            "matter_code": "SZ003",
            "text": text,
            "address": f"成华区双林路{secrets.randbelow(900) + 100}号",
            "lon": lon,
            "lat": lat,
        },
        timeout=15,
    )
    if r.status_code != 201:
        raise RuntimeError(f"filing a hotline complaint failed: {r.status_code} {r.text[:300]}")
    out: dict[str, Any] = r.json()
    return out


def open_case(urls: dict[str, str], creds: Credentials, *, fallback_lead: str) -> CaseRef:
    """File a complaint full of personal data and wait for its case (dispatched to ``fallback_lead`` if it
    lands in triage)."""
    tag = f"授权矩阵{secrets.token_hex(4)}"
    phone = f"138{secrets.randbelow(10**8):08d}"
    text = f"我叫王小明，电话{phone}，{tag}：小区门口路灯不亮已经一周了，夜里太黑"
    complaint = file_hotline(urls, creds.operator, text, phone)
    dispatch = urls["dispatch"]
    headers = {"X-API-Key": creds.dispatcher}

    def opened() -> dict[str, Any] | None:
        r = httpx.get(
            f"{dispatch}/api/v1/dispatch/cases", headers=headers, params={"complaint_id": complaint["id"]}, timeout=10
        )
        items = r.json().get("items") if r.status_code == 200 else None
        return items[0] if items else None

    case: dict[str, Any] = _wait(opened, 90, "the case of the matrix's complaint")
    if case["state"] == "triage" or not case.get("lead"):
        r = httpx.post(
            f"{dispatch}/api/v1/dispatch/cases/{case['id']}/dispatch",
            headers=headers,
            json={"lead": fallback_lead},
            timeout=10,
        )
        if r.status_code != 200:
            raise RuntimeError(f"dispatching the matrix's case failed: {r.status_code} {r.text[:300]}")
        case = r.json()["case"]
    return CaseRef(
        id=case["id"],
        complaint_id=complaint["id"],
        tracking_code=case["tracking_code"],
        lead=case["lead"],
        phone=phone,
        tag=tag,
    )


# ------------------------------------------------------------------------------------------------- requests
def _concrete(path: str, creds: Credentials) -> str:
    case = creds.case
    values = {
        "case_id": case.id if case else DUMMY,
        "complaint_id": case.complaint_id if case else DUMMY,
        "phone": case.phone if case else "13800000000",
        "fmt": "json",
        "digest": "0" * 64,
        "token": secrets.token_urlsafe(24),
    }
    return re.sub(r"\{(\w+)\}", lambda p: values.get(p.group(1), DUMMY), path)


@dataclass
class Answer:
    status: int
    json_body: bool
    text: str
    error: str = ""

    def describe(self) -> str:
        if self.error:
            return f"no answer ({self.error})"
        return f"{self.status}{'' if self.json_body else ' (not JSON)'}"


def call(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    cookies: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> Answer:
    """One request; a body that is not JSON for methods with a body; an event stream is not read."""
    content = GARBAGE_BODY if method in ("POST", "PUT", "PATCH") else None
    hdrs = dict(headers or {})
    if content is not None:
        hdrs.setdefault("content-type", "application/json")
    if cookies:
        hdrs["cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    try:
        with client.stream(method, url, headers=hdrs, content=content, params=params) as r:
            ctype = r.headers.get("content-type", "")
            body = "" if "text/event-stream" in ctype else r.read().decode("utf-8", "replace")
            return Answer(r.status_code, ctype.startswith("application/json"), body)
    except httpx.HTTPError as exc:
        return Answer(0, False, "", error=repr(exc)[:200])


@dataclass
class Matrix:
    urls: dict[str, str]
    creds: Credentials
    rate_limited_ok: bool = False  # against `linkage up` (no exemption) a 429 is a refusal too
    checks: list[Check] = field(default_factory=list)

    def expect(
        self,
        service: str,
        method: str,
        path: str,
        who: str,
        answer: Answer,
        statuses: tuple[int, ...],
        *,
        json_error: bool = True,
        must_not_contain: tuple[str, ...] = (),
    ) -> Check:
        allowed = statuses + ((429,) if self.rate_limited_ok and statuses[0] >= 400 else ())
        ok = answer.status in allowed
        notes = []
        if ok and json_error and answer.status >= 400 and not answer.json_body:
            ok, notes = False, ["the refusal is not JSON"]
        leaked = [s for s in must_not_contain if s and s in answer.text]
        if leaked:
            ok = False
            notes.append(f"the answer contains {', '.join(leaked)}")
        if not ok and answer.text:
            notes.append(answer.text[:160].replace("\n", " "))
        check = Check(
            service,
            method,
            path,
            who,
            "/".join(map(str, statuses)),
            answer.describe(),
            ok,
            "; ".join(notes),
        )
        self.checks.append(check)
        return check

    def note(self, service: str, method: str, path: str, who: str, expected: str, got: str, ok: bool) -> None:
        self.checks.append(Check(service, method, path, who, expected, got, ok))


def _schemes(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = (spec.get("components") or {}).get("securitySchemes") or {}
    return out


def _garbage_for(scheme: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]] | None:
    """(headers, cookies) carrying a made-up value for one security scheme."""
    kind, where, name = scheme.get("type"), scheme.get("in"), str(scheme.get("name", ""))
    if kind == "http":
        return {"Authorization": f"{str(scheme.get('scheme', 'bearer')).title()} {secrets.token_urlsafe(24)}"}, {}
    if kind != "apiKey" or not name:
        return None
    value = {
        "x-worker-token": f"w-nobody.{secrets.token_hex(16)}",
        "x-linkage-signature": "sha256=" + secrets.token_hex(32),
    }.get(name.lower(), f"lk_garbage_{secrets.token_urlsafe(24)}")
    if where == "header":
        return {name: value}, {}
    if where == "cookie":
        return {}, {name: value}
    return None


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, ops in sorted((spec.get("paths") or {}).items()):
        if path.startswith(SKIP_PREFIXES):
            continue
        for method, op in ops.items():
            if method in METHODS:
                yield method.upper(), path, op


def run_matrix(
    urls: dict[str, str],
    creds: Credentials,
    *,
    rate_limited_ok: bool = False,
    client: httpx.Client | None = None,
) -> list[Check]:
    """Every check described in the module docstring, against running services (``{name: base URL}``)."""
    m = Matrix(urls, creds, rate_limited_ok=rate_limited_ok)
    with client or httpx.Client(timeout=15) as client:
        specs = {name: client.get(f"{base}/openapi.json").json() for name, base in urls.items()}
        _positive_controls(m, client)
        for service, spec in specs.items():
            schemes = _schemes(spec)
            for method, path, op in operations(spec):
                _operation(m, client, service, method, path, op, schemes)
        for key in sorted(set(PUBLIC) - _public_ops(specs)):
            if key[0] in specs:
                m.note(*key, "declaration", "in the API", "PUBLIC lists an operation that no longer exists", False)
        if creds.case is not None:
            _other_department(m, client, specs)
        _grid_workers(m, client)
    return m.checks


def _public_ops(specs: dict[str, dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {
        (svc, method, path)
        for svc, spec in specs.items()
        for method, path, op in operations(spec)
        if not op.get("security")
    }


def _operation(
    m: Matrix,
    client: httpx.Client,
    service: str,
    method: str,
    path: str,
    op: dict[str, Any],
    schemes: dict[str, dict[str, Any]],
) -> None:
    url = f"{m.urls[service]}{_concrete(path, m.creds)}"
    security = [name for requirement in op.get("security") or [] for name in requirement]
    access = op.get(ACCESS_KEY)
    if not security:
        listed = (service, method, path) in PUBLIC
        ok = bool(access) and listed
        got = f"{ACCESS_KEY}={access!r}, {'in' if listed else 'NOT in'} the PUBLIC list"
        m.note(service, method, path, "declaration", "security, or x-linkage-access and the PUBLIC list", got, ok)
        answer = call(client, method, url)
        bad = answer.error or answer.status >= 500 or (method == "POST" and answer.status < 300)
        phone = m.creds.case.phone if m.creds.case and path not in DEV_ONLY else ""
        leaked = bool(phone) and phone in answer.text
        got = answer.describe() + (" and shows the citizen's phone number" if leaked else "")
        wanted = "not 5xx, no POST accepted, no phone number"
        m.note(service, method, path, "public, no credential, bad input", wanted, got, not (bad or leaked))
        return
    m.note(service, method, path, "declaration", "security", ", ".join(security), True)
    m.expect(service, method, path, "no credential", call(client, method, url), (401,))
    for name in dict.fromkeys(security):
        garbage = _garbage_for(schemes.get(name, {}))
        if garbage is None:
            m.note(service, method, path, f"garbage {name}", "a scheme the matrix can forge", "unknown scheme", False)
            continue
        headers, cookies = garbage
        m.expect(
            service,
            method,
            path,
            f"garbage {name}",
            call(client, method, url, headers=headers, cookies=cookies),
            (401,),
        )
    for who, headers, expected in _roles(m.creds, service, method, path, security):
        m.expect(service, method, path, who, call(client, method, url, headers=headers), expected)


def _roles(
    creds: Credentials, service: str, method: str, path: str, security: list[str]
) -> list[tuple[str, dict[str, str], tuple[int, ...]]]:
    """Callers that must be refused here: (who, headers, expected statuses)."""
    handler = next(iter(creds.handlers.values()))
    api = lambda key: {"X-API-Key": key}  # noqa: E731
    out: list[tuple[str, dict[str, str], tuple[int, ...]]] = []
    if service == "dispatch":
        out.append(("intake operator key", api(creds.operator), (401,)))
        if path.startswith("/api/v1/dispatch/"):
            out.append(("handler key", api(handler), (403,)))
        if path.startswith("/api/v1/handler/"):
            out += [("dispatcher key", api(creds.dispatcher), (403,)), ("admin key", api(creds.admin), (403,))]
    elif service == "intake":
        if "OperatorKey" in security:
            out.append(("handler key", api(handler), (403,)))
            if "DispatcherKey" not in security:
                out += [("dispatcher key", api(creds.dispatcher), (403,)), ("admin key", api(creds.admin), (403,))]
            if (service, method, path) in SUPERVISOR_ONLY:
                out.append(("operator key (not a supervisor)", api(creds.operator), (403,)))
        if "GridWorkerToken" in security:
            out += [
                ("operator key as a worker token", {"X-Worker-Token": creds.operator}, (401,)),
                ("handler key as a worker token", {"X-Worker-Token": handler}, (401,)),
                ("token forged for another worker", {"X-Worker-Token": _forged_grid_token(creds)}, (401,)),
            ]
    elif service == "analytics":
        if "DispatchKey" in security:
            out.append(("intake operator key", api(creds.operator), (401,)))
            if path.startswith("/api/v1/exports/"):
                out.append(("handler key", api(handler), (403,)))
    elif service == "notify":
        if "DispatcherKey" in security:
            out += [("handler key", api(handler), (403,)), ("intake operator key", api(creds.operator), (401,))]
        if "SmsGatewaySignature" in security:
            stamp = str(int(time.time()))
            out.append(
                (
                    "gateway signature under a guessed secret",
                    {"X-Linkage-Timestamp": stamp, "X-Linkage-Signature": secrets.token_hex(32)},
                    (401,),
                )
            )
    return out


def _forged_grid_token(creds: Credentials) -> str:
    """Worker A's MAC under worker B's id."""
    _, _, mac = creds.grid_token.rpartition(".")
    return f"{creds.grid_other_worker}.{mac}"


def _positive_controls(m: Matrix, client: httpx.Client) -> None:
    """The keys work where they belong; otherwise every refusal above would prove nothing."""
    dispatch, intake = m.urls.get("dispatch"), m.urls.get("intake")
    if dispatch:
        keys = {"dispatcher": m.creds.dispatcher, "admin": m.creds.admin}
        keys.update({f"handler {d}": k for d, k in m.creds.handlers.items()})
        for who, key in keys.items():
            a = call(client, "GET", f"{dispatch}/api/v1/whoami", headers={"X-API-Key": key})
            m.expect("dispatch", "GET", "/api/v1/whoami", f"{who} key (positive control)", a, (200,))
    if intake:
        a = call(client, "GET", f"{intake}/api/v1/operators/me", headers={"X-API-Key": m.creds.operator})
        m.expect("intake", "GET", "/api/v1/operators/me", "operator key (positive control)", a, (200,))
        a = call(client, "GET", f"{intake}/api/v1/grid/me", headers={"X-Worker-Token": m.creds.grid_token})
        m.expect("intake", "GET", "/api/v1/grid/me", "worker token (positive control)", a, (200,))


def _other_department(m: Matrix, client: httpx.Client, specs: dict[str, dict[str, Any]]) -> None:
    creds, case = m.creds, m.creds.case
    assert case is not None
    dept, foreign = creds.foreign
    who = f"handler of {dept} on {case.lead}'s case"
    secret_bits = (case.tag, case.phone)
    dispatch, intake = m.urls["dispatch"], m.urls["intake"]
    foreign_h = {"X-API-Key": foreign}

    own = call(client, "GET", f"{dispatch}/api/v1/handler/cases/{case.id}", headers={"X-API-Key": creds.own})
    m.expect(
        "dispatch", "GET", "/api/v1/handler/cases/{case_id}", f"handler of {case.lead} (positive control)", own, (200,)
    )
    for method, path, _ in operations(specs.get("dispatch", {})):
        if path.startswith("/api/v1/handler/cases/{case_id}"):
            a = call(client, method, f"{dispatch}{_concrete(path, creds)}", headers=foreign_h)
            m.expect("dispatch", method, path, who, a, (403,), must_not_contain=secret_bits)
    inbox = call(client, "GET", f"{dispatch}/api/v1/handler/cases", headers=foreign_h, params={"limit": "200"})
    m.expect(
        "dispatch",
        "GET",
        "/api/v1/handler/cases",
        f"{who}: inbox does not list it",
        inbox,
        (200,),
        must_not_contain=(case.id, *secret_bits),
    )
    for path in ("/api/v1/complaints/{complaint_id}", "/api/v1/hotline/callers/{phone}/history"):
        a = call(client, "GET", f"{intake}{_concrete(path, creds)}", headers=foreign_h)
        m.expect("intake", "GET", path, f"handler of {dept} (personal data)", a, (403,), must_not_contain=secret_bits)
    lookup = "/api/v1/app/complaints/{tracking_code}"
    wrong4 = "0000" if case.phone[-4:] != "0000" else "1111"
    attempts: tuple[tuple[str, dict[str, str]], ...] = (
        ("no secret", {}),
        ("wrong last four", {"phone_last4": wrong4}),
        ("guessed secret", {"secret": "x"}),
    )
    for label, params in attempts:
        a = call(client, "GET", f"{intake}/api/v1/app/complaints/{case.tracking_code}", params=params)
        m.expect(
            "intake",
            "GET",
            lookup,
            f"citizen lookup, tracking code only ({label})",
            a,
            (401, 404),
            must_not_contain=secret_bits,
        )
    if "notify" in m.urls:
        a = call(
            client,
            "GET",
            f"{m.urls['notify']}/api/v1/deliveries",
            headers=foreign_h,
            params={"tracking_code": case.tracking_code},
        )
        m.expect("notify", "GET", "/api/v1/deliveries", f"handler of {dept}", a, (403,), must_not_contain=secret_bits)
    track = call(client, "GET", f"{dispatch}/api/v1/track/{case.tracking_code}")
    m.expect(
        "dispatch",
        "GET",
        "/api/v1/track/{code}",
        "public tracking shows no phone number",
        track,
        (200,),
        must_not_contain=(case.phone,),
    )


def _grid_workers(m: Matrix, client: httpx.Client) -> None:
    intake = m.urls.get("intake")
    if not intake:
        return
    a = call(client, "GET", f"{intake}/api/v1/grid/me", headers={"X-Worker-Token": m.creds.grid_token})
    own_id = m.creds.grid_token.rpartition(".")[0]
    m.expect(
        "intake",
        "GET",
        "/api/v1/grid/me",
        "worker A sees only worker A",
        a,
        (200,),
        must_not_contain=(f'"{m.creds.grid_other_worker}"',),
    )
    if a.status == 200 and f'"{own_id}"' not in a.text:
        m.note(
            "intake", "GET", "/api/v1/grid/me", "worker A sees only worker A", f"worker_id {own_id}", a.text[:80], False
        )


def summary(checks: list[Check]) -> str:
    failed = [c for c in checks if not c.ok]
    return f"{len(checks) - len(failed)}/{len(checks)} checks passed" + "".join(f"\n  {c}" for c in failed)
