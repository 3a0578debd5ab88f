"""Security rows of ``linkage chaos``: forged credentials, replays, forged votes and history tampering.

Each row counts attempts in ``tried`` and the attempts refused as expected in ``denied`` ("refused / tried");
any attempt that got through is a problem. Lost / duplicated do not apply (the table prints n/a).

* **credentials matrix** — :func:`linkage.authz.run_matrix` (every endpoint × role × department).
* **WeChat replays** — correctly signed callbacks with a 1970, a month-old, a next-year and a ±400 s timestamp,
  and a (nonce, timestamp) pair reused with other bodies, in plain and safe (AES) mode; nothing of it is stored.
* **survey forgery** — a bare tracking code, unknown tokens, unsigned and wrongly signed SMS gateway callbacks,
  a reused token: all refused, and the case is not closed.
* **audit tampering** — on a throwaway case of the target's database: edit a history row, delete the last rows,
  recompute the chain with plain sha256 (keeping or dropping the key id); ``linkage audit verify`` (its
  :func:`~services.dispatch.audit.audit`) must report each; the rows are restored afterwards, with the
  checkpoint writer locked out meanwhile so no checkpoint records a tampered state.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import httpx

from linkage.authz import Credentials, provisioned, run_matrix
from linkage.chaos import Row, Scale, Target, _timed, scenario
from shared.settings import Settings


def _settings(target: Target) -> Settings:
    """The target's settings, with the checkpoint directory its dispatch writes (``linkage up``: var/audit)."""
    var_dir = getattr(target, "var_dir", None)
    if var_dir is not None and target.settings.audit_checkpoint_dir is None:
        return target.settings.model_copy(update={"audit_checkpoint_dir": var_dir / "audit"})
    return target.settings


def _harness(target: Target) -> bool:
    return getattr(target, "var_dir", None) is None  # `linkage up` does not exempt 127.0.0.1 from rate limits


def _attempt(row: Row, what: str, refused: bool, got: str) -> None:
    row.tried += 1
    if not refused:
        row.problems.append(f"{what}: not refused ({got})")


def _finish(row: Row, refused: int) -> Row:
    row.denied = f"{refused}/{row.tried}"
    return row


# ------------------------------------------------------------------------------------------ credentials matrix
@scenario("credentials matrix: every endpoint × role × department")
@_timed
def credentials_matrix(target: Target, scale: Scale) -> Row:
    row = Row("credentials matrix: every endpoint × role × department")
    with provisioned(_settings(target), target.urls) as creds:
        checks = run_matrix(target.urls, creds, rate_limited_ok=not _harness(target))
    row.tried = len(checks)
    row.problems = [str(c) for c in checks if not c.ok]
    return _finish(row, sum(c.ok for c in checks))


# ----------------------------------------------------------------------------------------------- WeChat replays
def _wechat_xml(openid: str, content: str) -> str:
    msg_id = str(secrets.randbelow(10**17) + 10**17)
    return (
        "<xml><ToUserName><![CDATA[gh_linkage_demo]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{int(time.time())}</CreateTime>"
        f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )


def post_wechat(
    client: httpx.Client, url: str, settings: Settings, xml: str, *, aes: bool, timestamp: str, nonce: str
) -> httpx.Response:
    """A callback signed as WeChat signs it, with the given timestamp and nonce."""
    from services.intake.channels.wechat.crypto import SafeMode, make_signature
    from services.intake.channels.wechat.parse import parse_xml

    params = {
        "signature": make_signature(settings.wechat_token, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
    }
    body = xml
    if aes:
        safe = SafeMode(settings.wechat_token, settings.wechat_aes_key, settings.wechat_appid)
        envelope = parse_xml(safe.encrypt(xml, nonce, timestamp).encode())
        params.update(encrypt_type="aes", msg_signature=envelope["MsgSignature"])
        body = (
            f"<xml><ToUserName>gh_linkage_demo</ToUserName><Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>"
        )
    return client.post(url, params=params, content=body.encode(), timeout=10)


async def _count(settings: Settings, schema: str, sql: str, **params: Any) -> int:
    from sqlalchemy import text

    from shared.db import make_engine

    engine = make_engine(settings, schema, pool_size=1)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(text(sql), params)).scalar_one())
    finally:
        await engine.dispose()


@scenario("WeChat replays: stale/future timestamps, reused nonces (plain and AES)")
@_timed
def wechat_replays(target: Target, scale: Scale) -> Row:
    from services.intake.channels.wechat.crypto import make_signature

    row = Row("WeChat replays: stale/future timestamps, reused nonces (plain and AES)")
    settings = _settings(target)
    url = f"{target.urls['intake']}/wechat/callback"
    openid = "o" + secrets.token_hex(12)
    refused = 0
    genuine = 0
    with httpx.Client(timeout=10) as client:
        for aes in (False, True):
            mode = "AES" if aes else "plain"
            now = int(time.time())
            for label, stamp in (
                ("1970", "1"),
                ("now - 30 days", str(now - 30 * 86400)),
                ("now + 1 year", str(now + 365 * 86400)),
                ("now - 400 s", str(now - 400)),
                ("now + 400 s", str(now + 400)),
            ):
                r = post_wechat(
                    client,
                    url,
                    settings,
                    _wechat_xml(openid, "路灯坏了"),
                    aes=aes,
                    timestamp=stamp,
                    nonce=secrets.token_hex(8),
                )
                ok = r.status_code in (401, 403)
                refused += ok
                _attempt(row, f"{mode}, timestamp {label}", ok, f"{r.status_code} {r.text[:80]}")
            stamp, nonce = str(int(time.time())), secrets.token_hex(8)
            first = post_wechat(
                client, url, settings, _wechat_xml(openid, "楼上漏水"), aes=aes, timestamp=stamp, nonce=nonce
            )
            if first.status_code != 200:
                row.problems.append(f"{mode}: a genuine callback was refused ({first.status_code} {first.text[:80]})")
            else:
                genuine += 1
            for content in ("另一条伪造的诉求", "第三条伪造的诉求"):
                r = post_wechat(
                    client, url, settings, _wechat_xml(openid, content), aes=aes, timestamp=stamp, nonce=nonce
                )
                ok = r.status_code in (401, 403)
                refused += ok
                _attempt(row, f"{mode}, used nonce with another body", ok, f"{r.status_code} {r.text[:80]}")
        old = str(int(time.time()) - 30 * 86400)
        params = {
            "signature": make_signature(settings.wechat_token, old, "n1"),
            "timestamp": old,
            "nonce": "n1",
            "echostr": "echo",
        }
        r = client.get(url, params=params)
        ok = r.status_code in (401, 403)
        refused += ok
        _attempt(row, "URL verification with a month-old timestamp", ok, f"{r.status_code} {r.text[:80]}")
    stored = asyncio.run(_count(settings, "intake", "SELECT count(*) FROM wechat_messages WHERE openid = :o", o=openid))
    if stored != genuine:
        row.problems.append(f"{stored} message(s) stored for the test user, expected only the {genuine} genuine")
    return _finish(row, refused)


# ---------------------------------------------------------------------------------------------- survey forgery
def _dispatch_case(target: Target, creds: Credentials) -> dict[str, Any]:
    assert creds.case is not None
    r = httpx.get(
        f"{target.urls['dispatch']}/api/v1/dispatch/cases/{creds.case.id}",
        headers={"X-API-Key": creds.dispatcher},
        timeout=10,
    )
    r.raise_for_status()
    out: dict[str, Any] = r.json()
    return out


def _handler_steps(target: Target, creds: Credentials, steps: list[tuple[str, dict[str, Any]]]) -> None:
    assert creds.case is not None
    for step, body in steps:
        r = httpx.post(
            f"{target.urls['dispatch']}/api/v1/handler/cases/{creds.case.id}/{step}",
            headers={"X-API-Key": creds.own},
            json=body,
            timeout=10,
        )
        if r.status_code != 200:
            raise RuntimeError(f"handler {step} failed: {r.status_code} {r.text[:200]}")


def _survey_token(target: Target, code: str, timeout_s: float = 60.0) -> str | None:
    """The token in the survey SMS, from the development sink (None when the sink is off)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        r = httpx.get(f"{target.urls['notify']}/dev/messages", params={"tracking_code": code}, timeout=10)
        if r.status_code == 404:
            return None
        for message in r.json() if r.status_code == 200 else []:
            if message.get("template") == "replied" and "/survey/" in message.get("body", ""):
                return str(message["body"].split("/survey/")[1].split()[0])
        time.sleep(0.5)
    return None


def _gateway(client: httpx.Client, url: str, body: dict[str, Any], secret: str | None) -> httpx.Response:
    raw = json.dumps(body, ensure_ascii=False).encode()
    headers = {"content-type": "application/json"}
    if secret is not None:
        stamp = str(int(time.time()))
        mac = hmac.new(secret.encode(), stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
        headers.update({"X-Linkage-Timestamp": stamp, "X-Linkage-Signature": mac})
    return client.post(url, content=raw, headers=headers)


@scenario("survey forgery: tracking code alone, unknown/reused tokens, forged SMS gateway")
@_timed
def survey_forgery(target: Target, scale: Scale) -> Row:
    row = Row("survey forgery: tracking code alone, unknown/reused tokens, forged SMS gateway")
    notify = target.urls["notify"]
    answers = f"{notify}/api/v1/surveys/answers"
    refused = 0
    with provisioned(_settings(target), target.urls) as creds, httpx.Client(timeout=10) as client:
        case = creds.case
        assert case is not None
        _handler_steps(target, creds, [("sign", {}), ("reply", {"text": "已更换路灯灯泡，经夜间复查照明恢复正常。"})])
        token = _survey_token(target, case.tracking_code)
        attempts: list[tuple[str, httpx.Response, tuple[int, ...]]] = [
            (
                "tracking code alone",
                client.post(answers, json={"tracking_code": case.tracking_code, "answer": "1"}),
                (401,),
            ),
            ("unknown token", client.post(answers, json={"token": secrets.token_urlsafe(24), "answer": "1"}), (404,)),
            (
                "unknown token on the link",
                client.post(f"{notify}/api/v1/surveys/{secrets.token_urlsafe(24)}", json={"answer": "1"}),
                (404,),
            ),
            (
                "unsigned SMS gateway callback",
                _gateway(client, answers, {"phone": case.phone, "answer": "1"}, None),
                (401,),
            ),
            (
                "SMS gateway callback under a guessed secret",
                _gateway(client, answers, {"phone": case.phone, "answer": "1"}, "guessed-secret"),
                (401,),
            ),
        ]
        if token is None:
            row.problems.append("no survey token to reuse: is the development sink on (LINKAGE_DEV_SINK_ENABLED)?")
        else:
            first = client.post(answers, json={"token": token, "answer": "3"})  # 不满意: reopens, never closes
            if first.status_code != 202:
                row.problems.append(f"the genuine answer was refused: {first.status_code} {first.text[:120]}")
            attempts += [
                ("reused token", client.post(answers, json={"token": token, "answer": "1"}), (409,)),
                (
                    "reused token on the link",
                    client.post(f"{notify}/api/v1/surveys/{token}", json={"answer": "1"}),
                    (409,),
                ),
            ]
        for what, r, expected in attempts:
            ok = r.status_code in expected or (r.status_code == 429 and not _harness(target))
            refused += ok
            _attempt(row, what, ok, f"{r.status_code} {r.text[:120]}")
        time.sleep(3.0)  # a forged answer that got through would reach dispatch by now
        state = _dispatch_case(target, creds).get("state")
        if state == "closed":
            row.problems.append("the case was closed")
    return _finish(row, refused)


# ---------------------------------------------------------------------------------------------- audit tampering
TAMPER_EXPECTED = {
    "edited a history row": {"edited"},
    "deleted the last two rows and moved the head": {"truncated", "deleted"},
    "edited and recomputed the chain with plain sha256": {"recomputed", "edited"},
    "recomputed with plain sha256, key id dropped": {"recomputed", "downgraded"},
}


@asynccontextmanager
async def _checkpoints_locked(settings: Settings) -> AsyncIterator[None]:
    """Hold the checkpoint writers' advisory lock: no checkpoint can record a tampered state."""
    from sqlalchemy import text

    from services.dispatch.audit_checkpoints import _LOCK_KEY
    from shared.db import make_engine

    engine = make_engine(settings, "dispatch", pool_size=1)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK_KEY})
            await conn.commit()
            try:
                yield
            finally:
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
                await conn.commit()
    finally:
        await engine.dispose()


async def _tamper_and_verify(settings: Settings, case_id: str) -> tuple[dict[str, set[str]], list[str]]:
    """Each kind of tampering of :data:`TAMPER_EXPECTED`, verified and restored; returns
    {tampering: problem kinds verify reported} and notes on anything else that went wrong."""
    from sqlalchemy import Table, delete, insert, select, text, update

    from services.dispatch.audit import audit
    from services.dispatch.audit_checkpoints import checkpoint_once, read_checkpoint_files
    from services.dispatch.case import history
    from services.dispatch.case.models import Case, CaseHistory
    from shared.db import make_engine

    keyring = history.Keyring.from_settings(settings)
    engine = make_engine(settings, "dispatch", pool_size=2)
    table = cast(Table, CaseHistory.__table__)
    notes: list[str] = []
    found: dict[str, set[str]] = {}
    try:
        head = (await _head(engine, case_id))[0]
        for _ in range(150):  # our checkpoint, or the running dispatch's
            await checkpoint_once(settings, engine, None, keyring)
            latest = read_checkpoint_files(settings.audit_dir, keyring).latest.get(case_id)
            if latest is not None and latest.seq == head:
                break
            await asyncio.sleep(0.2)
        else:
            notes.append(f"the case was not checkpointed in {settings.audit_dir}")
        baseline = await audit(settings, case_id)
        if baseline.problems:
            notes.append(f"verify reports problems before any tampering: {[p.problem for p in baseline.problems]}")

        async def recompute(conn: Any, drop_key_id: bool) -> None:
            rows = (await conn.execute(select(table).where(table.c.case_id == case_id).order_by(table.c.seq))).all()
            prev = history.GENESIS
            for r in rows:
                obj = CaseHistory(**dict(r._mapping))
                if obj.seq == 2:
                    obj.reason = "已办结（改写）"
                digest = history.chain_hash(prev, history.row_body(obj))
                values: dict[str, Any] = {"reason": obj.reason, "prev_hash": prev, "hash": digest}
                if drop_key_id:
                    values["key_id"] = None
                await conn.execute(update(table).where(table.c.id == obj.id).values(**values))
                prev = digest
            await conn.execute(text("UPDATE cases SET history_hash = :h WHERE id = :c"), {"h": prev, "c": case_id})

        async def edit(conn: Any) -> None:
            await conn.execute(
                text("UPDATE case_history SET reason = '改过' WHERE case_id = :c AND seq = 2"), {"c": case_id}
            )

        async def truncate(conn: Any) -> None:
            keep = head - 2
            await conn.execute(
                text("DELETE FROM case_history WHERE case_id = :c AND seq > :k"), {"c": case_id, "k": keep}
            )
            await conn.execute(
                text(
                    "UPDATE cases SET history_seq = :k, history_hash = "
                    "(SELECT hash FROM case_history WHERE case_id = :c AND seq = :k) WHERE id = :c"
                ),
                {"c": case_id, "k": keep},
            )

        async def plain(conn: Any) -> None:
            await recompute(conn, drop_key_id=False)

        async def unkeyed(conn: Any) -> None:
            await recompute(conn, drop_key_id=True)

        kinds = dict(zip(TAMPER_EXPECTED, (edit, truncate, plain, unkeyed), strict=True))
        async with _checkpoints_locked(settings):
            for label, tamper in kinds.items():
                async with engine.begin() as conn:
                    saved = [
                        dict(r._mapping) for r in await conn.execute(select(table).where(table.c.case_id == case_id))
                    ]
                    saved_head = await conn.execute(
                        select(Case.history_seq, Case.history_hash).where(Case.id == case_id)
                    )
                    seq, head_hash = saved_head.one()
                try:
                    async with engine.begin() as conn:
                        await tamper(conn)
                    report = await audit(settings, case_id)
                    found[label] = {p.kind for p in report.problems}
                finally:
                    async with engine.begin() as conn:
                        await conn.execute(delete(table).where(table.c.case_id == case_id))
                        await conn.execute(insert(table), saved)
                        await conn.execute(
                            update(Case).where(Case.id == case_id).values(history_seq=seq, history_hash=head_hash)
                        )
        after = await audit(settings, case_id)
        if after.problems:
            notes.append(f"verify still reports problems after the restore: {[p.problem for p in after.problems]}")
        return found, notes
    finally:
        await engine.dispose()


async def _head(engine: Any, case_id: str) -> tuple[int, str | None]:
    from sqlalchemy import select

    from services.dispatch.case.models import Case

    async with engine.connect() as conn:
        seq, head = (await conn.execute(select(Case.history_seq, Case.history_hash).where(Case.id == case_id))).one()
        return int(seq), head


@scenario("audit tampering: edited row, deleted rows, chain recomputed with sha256")
@_timed
def audit_tampering(target: Target, scale: Scale) -> Row:
    row = Row("audit tampering: edited row, deleted rows, chain recomputed with sha256")
    settings = _settings(target)
    refused = 0
    with provisioned(settings, target.urls) as creds:
        assert creds.case is not None
        _handler_steps(
            target, creds, [("sign", {}), ("progress", {"note": "已到现场"}), ("progress", {"note": "已联系市政"})]
        )
        found, notes = asyncio.run(_tamper_and_verify(settings, creds.case.id))
    row.problems.extend(notes)
    for label, expected in TAMPER_EXPECTED.items():
        reported = found.get(label, set())
        detected = bool(reported & expected)
        refused += detected
        _attempt(row, label, detected, f"verify reported {sorted(reported) or 'nothing'}")
    return _finish(row, refused)
